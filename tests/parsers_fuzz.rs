//! Property tests of the two file parsers a user can hand sgan-gpu a bad file through: the
//! MNIST IDX reader (raw or gzip) and the safetensors checkpoint and training-state reader.
//! On random bytes and on valid files that are bit-flipped, truncated, or whose header fields
//! are overwritten with huge values, every parse must return (an error, almost always) without
//! panicking, and must never allocate much more than the bytes it was given: a header that
//! declares gigabytes must cost an error, not memory. A counting allocator measures the
//! largest single allocation each parse asks for. No GPU is needed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::{write::GzEncoder, Compression};
use proptest::prelude::*;
use sgan_gpu::data::mnist;
use sgan_gpu::report::{self, MetricsRow, NamedTensor};
use sgan_gpu::run;
use sgan_gpu::train::{Config, TrainingState};

// --- the largest allocation a parse asks for ---------------------------------------------------

/// The system allocator, noting the largest request made on each thread.
struct PeakTracking;

thread_local! {
    // `const` and without a destructor, so the allocator can touch it at any time.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Runs `parse` and returns the largest single allocation it made on this thread.
fn largest_allocation(parse: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    parse();
    LARGEST.with(Cell::get)
}

/// What a parse of `bytes` may allocate at most in one piece: the decoded data (gzip expands
/// at most about 1032-fold) plus room for the decompressor's and JSON parser's own buffers.
fn allocation_bound(bytes: &[u8]) -> usize {
    let expansion = if bytes.starts_with(&[0x1f, 0x8b]) {
        1100
    } else {
        4
    };
    (256 << 10) + expansion * bytes.len()
}

// --- the parsers under test --------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Parser {
    IdxImages,
    IdxLabels,
    Checkpoint,
    State,
}

const PARSERS: [Parser; 4] = [
    Parser::IdxImages,
    Parser::IdxLabels,
    Parser::Checkpoint,
    Parser::State,
];

/// Parses `bytes` with `parser`; returns the error message, or None where it was accepted.
fn parse(parser: Parser, bytes: &[u8]) -> Option<String> {
    let source = Path::new("fuzzed-file");
    let message = |e: sgan_gpu::Error| e.to_string();
    match parser {
        Parser::IdxImages => mnist::parse_idx_images(bytes, source).err().map(message),
        Parser::IdxLabels => mnist::parse_idx_labels(bytes, source).err().map(message),
        Parser::Checkpoint => report::parse_checkpoint(bytes, source).err().map(message),
        Parser::State => run::parse_state(bytes, source).err().map(message),
    }
}

/// Parses `bytes` with `parser`, asserting that the parse allocates within
/// [`allocation_bound`] and that an error message is one line; returns the message.
fn checked_parse(parser: Parser, bytes: &[u8]) -> Option<String> {
    let mut outcome = None;
    let largest = largest_allocation(|| outcome = parse(parser, bytes));
    assert!(
        largest <= allocation_bound(bytes),
        "{parser:?} allocated {largest} bytes at once for {} input bytes (bound {})",
        bytes.len(),
        allocation_bound(bytes)
    );
    if let Some(message) = &outcome {
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{parser:?}: an error must be one line: {message:?}"
        );
    }
    outcome
}

fn refused(parser: Parser, bytes: &[u8], what: &str) -> String {
    checked_parse(parser, bytes)
        .unwrap_or_else(|| panic!("{parser:?} accepted {what} ({} bytes)", bytes.len()))
}

// --- valid files to start from -----------------------------------------------------------------

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn be_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Three 28x28 images, pixel i holding i mod 251.
fn idx_images() -> Vec<u8> {
    let mut bytes = be_words(&[mnist::IMAGE_MAGIC, 3, 28, 28]);
    bytes.extend((0..3 * 28 * 28).map(|i| (i % 251) as u8));
    bytes
}

fn idx_labels() -> Vec<u8> {
    let mut bytes = be_words(&[mnist::LABEL_MAGIC, 5]);
    bytes.extend([3, 1, 4, 1, 5]);
    bytes
}

/// A path for a scratch file of this process; each user removes its file.
fn scratch_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sgan-gpu-fuzz-{}-{name}", std::process::id()))
}

fn small_tensors() -> Vec<NamedTensor> {
    vec![
        NamedTensor {
            name: "discriminator.dense.bias".to_string(),
            shape: vec![2, 3],
            data: vec![0.5, -1.0, 2.0, 0.0, 1e-3, 7.0],
        },
        NamedTensor {
            name: "generator.dense.bias".to_string(),
            shape: vec![4],
            data: vec![1.0, 2.0, 3.0, 4.0],
        },
    ]
}

/// A small sgan-gpu checkpoint, as `save_checkpoint` writes it.
fn checkpoint() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = scratch_file("checkpoint.safetensors");
        let metadata = BTreeMap::from([
            ("format".to_string(), "sgan-gpu".to_string()),
            ("version".to_string(), "1".to_string()),
        ]);
        report::save_checkpoint(&path, &small_tensors(), &metadata).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

/// A small training state, as `save_state` writes it.
fn state() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = scratch_file("state.safetensors");
        let state = TrainingState {
            tensors: small_tensors(),
            adam_steps: [3, 6, 3],
            steps_done: 3,
        };
        let row = MetricsRow {
            iteration: 3,
            supervised_loss: 1.5,
            supervised_accuracy: 0.25,
            unsupervised_loss: Some(0.75),
            generator_loss: Some(2.0),
            seconds: 1.0,
        };
        run::save_state(&path, &Config::default(), &[row], &state).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

/// Every valid file with the parser that reads it.
fn valid_files() -> Vec<(&'static str, Parser, Vec<u8>)> {
    vec![
        ("raw IDX images", Parser::IdxImages, idx_images()),
        ("gzip IDX images", Parser::IdxImages, gzip(&idx_images())),
        ("raw IDX labels", Parser::IdxLabels, idx_labels()),
        ("gzip IDX labels", Parser::IdxLabels, gzip(&idx_labels())),
        ("checkpoint", Parser::Checkpoint, checkpoint().to_vec()),
        ("state", Parser::State, state().to_vec()),
    ]
}

#[test]
fn the_valid_files_parse() {
    for (what, parser, bytes) in valid_files() {
        assert_eq!(checked_parse(parser, &bytes), None, "{what}");
    }
}

// --- deterministic damage ----------------------------------------------------------------------

/// A file cut short anywhere is refused, for every length from empty to one byte short.
#[test]
fn every_truncation_of_every_valid_file_is_refused() {
    for (what, parser, bytes) in valid_files() {
        for len in 0..bytes.len() {
            refused(parser, &bytes[..len], &format!("{what} cut to {len} bytes"));
        }
    }
}

const HUGE_U32: [u32; 5] = [u32::MAX, 0x8000_0000, 0x7fff_ffff, 0x0100_0000, 60_001];

/// Each dimension of an IDX header overwritten with a huge count: raw and gzip, the data
/// left as it was. The parser must compare the claim with the data and refuse.
#[test]
fn idx_headers_declaring_huge_sizes_are_refused_without_allocating_them() {
    for (parser, file, words) in [
        (Parser::IdxImages, idx_images(), 1..4),
        (Parser::IdxLabels, idx_labels(), 1..2),
    ] {
        for word in words {
            for value in HUGE_U32 {
                let mut lying = file.clone();
                lying[4 * word..4 * word + 4].copy_from_slice(&value.to_be_bytes());
                let what = format!("header word {word} set to {value}");
                let message = refused(parser, &lying, &what);
                assert!(message.contains("declares"), "{what}: {message}");
                refused(parser, &gzip(&lying), &format!("gzip, {what}"));
            }
        }
    }
}

/// The safetensors header as (JSON text, tensor data).
fn split_safetensors(bytes: &[u8]) -> (String, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    (header, bytes[8 + n..].to_vec())
}

fn join_safetensors(claimed_len: u64, header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = claimed_len.to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// The header length, a tensor's shape and its data offsets overwritten with huge values:
/// refused before anything of that size is allocated.
#[test]
fn safetensors_headers_declaring_huge_sizes_are_refused_without_allocating_them() {
    for (parser, bytes) in [(Parser::Checkpoint, checkpoint()), (Parser::State, state())] {
        let (header, data) = split_safetensors(bytes);
        let len = header.len() as u64;
        for claimed in [u64::MAX, 1 << 63, 1 << 40, 100_000_001, len + 1, len - 1, 0] {
            let forged = join_safetensors(claimed, &header, &data);
            refused(parser, &forged, &format!("header length {claimed}"));
        }
        let huge = [
            "18446744073709551615",
            "9223372036854775808",
            "4294967296",
            "1000000000",
        ];
        for value in huge {
            for (from, to) in [
                ("\"shape\":[2,3]", format!("\"shape\":[{value},3]")),
                ("\"shape\":[4]", format!("\"shape\":[{value},{value}]")),
                (
                    "\"data_offsets\":[0,24]",
                    format!("\"data_offsets\":[0,{value}]"),
                ),
                (
                    "\"data_offsets\":[24,40]",
                    format!("\"data_offsets\":[{value},40]"),
                ),
            ] {
                assert!(header.contains(from), "the test expects {from} in {header}");
                let forged_header = header.replacen(from, &to, 1);
                let forged = join_safetensors(forged_header.len() as u64, &forged_header, &data);
                refused(parser, &forged, &format!("{from} made {to}"));
            }
        }
    }
}

// --- random bytes and random damage ------------------------------------------------------------

/// One change to a file. Positions are taken modulo the file's length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    /// A big-endian u32 (as IDX stores its header) written at the position.
    OverwriteU32(usize, u32),
    /// A little-endian u64 (as safetensors stores its header length) written there.
    OverwriteU64(usize, u64),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn huge_u32() -> impl Strategy<Value = u32> {
    prop_oneof![proptest::sample::select(HUGE_U32.to_vec()), any::<u32>()]
}

fn huge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        proptest::sample::select(vec![u64::MAX, 1 << 63, 1 << 32, 100_000_001]),
        any::<u64>()
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0..1usize << 20;
    prop_oneof![
        4 => (at.clone(), 0..8u8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        2 => (at.clone(), huge_u32()).prop_map(|(i, v)| Mutation::OverwriteU32(i, v)),
        2 => (at.clone(), huge_u64()).prop_map(|(i, v)| Mutation::OverwriteU64(i, v)),
        1 => at.clone().prop_map(Mutation::Truncate),
        1 => (at.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => at.prop_map(Mutation::Remove),
    ]
}

fn overwrite(bytes: &mut [u8], i: usize, word: &[u8]) {
    let start = i % bytes.len();
    let end = (start + word.len()).min(bytes.len());
    bytes[start..end].copy_from_slice(&word[..end - start]);
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::FlipBit(i, bit) => bytes[i % len] ^= 1 << bit,
        Mutation::OverwriteU32(i, v) => overwrite(bytes, i, &v.to_be_bytes()),
        Mutation::OverwriteU64(i, v) => overwrite(bytes, i, &v.to_le_bytes()),
        Mutation::Truncate(new_len) => bytes.truncate(new_len % len),
        Mutation::Insert(i, b) => bytes.insert(i % len, b),
        Mutation::Remove(i) => {
            bytes.remove(i % len);
        }
    }
}

/// Header positions of each valid file, where a mutation does the most harm: the mutated
/// position is drawn from these half of the time.
fn header_len(parser: Parser, bytes: &[u8]) -> usize {
    match parser {
        Parser::IdxImages | Parser::IdxLabels if bytes.starts_with(&[0x1f, 0x8b]) => bytes.len(),
        Parser::IdxImages => 16,
        Parser::IdxLabels => 8,
        Parser::Checkpoint | Parser::State => {
            8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Bytes of no format at all: every parser refuses them, or (for a few lucky IDX-like
    /// inputs) accepts them, but none panics or allocates beyond its bound.
    #[test]
    fn random_bytes_never_panic_nor_allocate_hugely(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        for parser in PARSERS {
            checked_parse(parser, &bytes);
        }
    }

    /// Random bytes behind a valid IDX magic and plausible sizes, which gets them past the
    /// first check: the parsers then have to handle every header word.
    #[test]
    fn random_idx_headers_never_panic_nor_allocate_hugely(
        words in prop::collection::vec(huge_u32(), 3),
        body in prop::collection::vec(any::<u8>(), 0..512),
        compress in any::<bool>(),
    ) {
        for (parser, magic) in [
            (Parser::IdxImages, mnist::IMAGE_MAGIC),
            (Parser::IdxLabels, mnist::LABEL_MAGIC),
        ] {
            let mut bytes = be_words(&[magic, words[0], words[1], words[2]]);
            bytes.extend_from_slice(&body);
            let bytes = if compress { gzip(&bytes) } else { bytes };
            checked_parse(parser, &bytes);
        }
    }

    /// Valid files with one to eight random changes, each read by its own parser and by
    /// every other one.
    #[test]
    fn mutated_valid_files_never_panic_nor_allocate_hugely(
        file in 0..6usize,
        mutations in prop::collection::vec(mutation(), 1..8),
        in_header in prop::collection::vec(any::<bool>(), 8),
    ) {
        let (_, parser, mut bytes) = valid_files().swap_remove(file);
        let header = header_len(parser, &bytes);
        for (mutation, &aim_at_header) in mutations.iter().zip(&in_header) {
            // Half of the changes land in the header, where a wrong value does the most.
            let mutation = match (mutation.clone(), aim_at_header) {
                (Mutation::FlipBit(i, bit), true) => Mutation::FlipBit(i % header, bit),
                (Mutation::OverwriteU32(i, v), true) => Mutation::OverwriteU32(i % header, v),
                (Mutation::OverwriteU64(i, v), true) => Mutation::OverwriteU64(i % header, v),
                (other, _) => other,
            };
            apply(&mut bytes, &mutation);
        }
        checked_parse(parser, &bytes);
        for other in PARSERS {
            checked_parse(other, &bytes);
        }
    }
}

/// The checksum covers the tensors, not the metadata, so a state's configuration can say
/// anything: a batch of 0 under the epoch schedule must not divide by zero while the state is
/// read (the run refuses it later), and more iterations done than the run has is refused.
#[test]
fn state_metadata_with_impossible_values_is_read_without_panicking() {
    let state = TrainingState {
        tensors: small_tensors(),
        adam_steps: [3, 3, 3],
        steps_done: 3,
    };
    let save = |name: &str, config: Config| {
        let path = scratch_file(name);
        run::save_state(&path, &config, &[], &state).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    };
    let no_batch = Config {
        mode: sgan_gpu::train::Mode::Supervised,
        schedule: sgan_gpu::train::Schedule::Epochs(usize::MAX),
        batch: 0,
        ..Config::default()
    };
    checked_parse(Parser::State, &save("no-batch.safetensors", no_batch));
    let short = Config {
        iterations: 2,
        ..Config::default()
    };
    let message = refused(
        Parser::State,
        &save("short.safetensors", short),
        "3 of 2 steps",
    );
    assert!(message.contains("3 iterations done"), "{message}");
}
