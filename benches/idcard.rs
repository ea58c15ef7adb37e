//! Benchmark: idcard. Decoder throughput, text-block decoding and validation, and the
//! end-to-end poll (find, select, read) against the simulator at 115200 baud compared with the
//! wire time of the bytes exchanged.
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --no-default-features --bench idcard`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use village_kiosk::idcard::card::IdCard;
use village_kiosk::idcard::protocol::{ReadData, Response, ResponseDecoder, Status};
use village_kiosk::idcard::reader::{PollOutcome, Reader, ReaderSettings};
use village_kiosk::sim::idcard::{IdcardSimulator, SimCard, SimOptions};

/// A poll's worth of responses: find OK, select OK, a 30 01 read with text and photo.
fn poll_stream() -> Vec<u8> {
    let text = SimCard::demo_resident().text_block().unwrap().to_vec();
    let read = ReadData {
        text,
        photo: vec![0x5A; 1024],
        fingerprint: None,
    };
    let mut s = Vec::new();
    s.extend(Response::new(Status::FindCardOk, vec![0; 4]).encode());
    s.extend(Response::new(Status::Success, vec![0; 8]).encode());
    s.extend(Response::new(Status::Success, read.encode()).encode());
    s
}

fn decoder(c: &mut Criterion) {
    let one = poll_stream();
    let stream: Vec<u8> = one.repeat(100);
    let mut g = c.benchmark_group("idcard_decoder");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    for piece in [1usize, 64, 4096] {
        g.bench_with_input(BenchmarkId::new("pieces_of", piece), &piece, |b, &piece| {
            b.iter(|| {
                let mut d = ResponseDecoder::new();
                let mut frames = 0;
                for chunk in stream.chunks(piece) {
                    d.push(chunk);
                    while let Some(f) = d.next_frame() {
                        frames += f.is_ok() as usize;
                    }
                }
                assert_eq!(frames, 300);
                black_box(frames)
            })
        });
    }
    // Pure noise: the search for a preamble.
    let noise: Vec<u8> = (0..stream.len()).map(|i| (i * 31 % 251) as u8).collect();
    g.bench_function("noise_only", |b| {
        b.iter(|| {
            let mut d = ResponseDecoder::new();
            for chunk in noise.chunks(64) {
                d.push(chunk);
                while d.next_frame().is_some() {}
            }
            black_box(d.noise_skipped())
        })
    });
    g.finish();

    let text = SimCard::demo_resident().text_block().unwrap();
    let today = chrono::Local::now().date_naive();
    c.bench_function("idcard_decode_and_validate_text_block", |b| {
        b.iter(|| black_box(IdCard::from_sam(&text, Vec::new(), today).is_ok()))
    });
}

/// With fingerprints asked for (30 10, the kiosk's default is 30 01), so the figures compare
/// the largest read with an old SAM's fallback.
fn settings(sim: &IdcardSimulator) -> ReaderSettings {
    ReaderSettings {
        fingerprint: true,
        ..ReaderSettings::new(sim.path())
    }
}

fn end_to_end(c: &mut Criterion) {
    let mut g = c.benchmark_group("idcard_end_to_end_115200");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, old_sam) in [("poll_30_10", false), ("poll_30_01_old_sam", true)] {
        let sim = IdcardSimulator::start(SimOptions {
            card: Some(SimCard::demo_resident()),
            old_sam,
            ..SimOptions::default()
        })
        .unwrap();
        let mut reader = Reader::open(&settings(&sim)).unwrap();
        let today = chrono::Local::now().date_naive();
        g.bench_function(name, |b| {
            b.iter(|| {
                let outcome = reader.poll(today).unwrap();
                assert!(matches!(outcome, PollOutcome::Card(Ok(_))));
            })
        });
    }
    g.finish();
}

/// Mean poll time against the wire time of the bytes the poll exchanged, printed as a table.
fn wire_time_comparison() {
    println!("\nend-to-end poll vs wire time at 115200 baud (8N1, 10 bits per byte):");
    for (name, old_sam) in [
        ("30 10 (fingerprint 1024)", false),
        ("30 01 (old SAM)", true),
    ] {
        let sim = IdcardSimulator::start(SimOptions {
            card: Some(SimCard::demo_resident()),
            old_sam,
            ..SimOptions::default()
        })
        .unwrap();
        let mut reader = Reader::open(&settings(&sim)).unwrap();
        let today = chrono::Local::now().date_naive();
        // Warm up (and, for the old SAM, learn that 30 10 is not supported).
        reader.poll(today).unwrap();
        let polls = 20u32;
        let (in0, out0) = sim.bytes_exchanged();
        let start = Instant::now();
        for _ in 0..polls {
            assert!(matches!(
                reader.poll(today).unwrap(),
                PollOutcome::Card(Ok(_))
            ));
        }
        let elapsed = start.elapsed() / polls;
        let (in1, out1) = sim.bytes_exchanged();
        let bytes = ((in1 - in0) + (out1 - out0)) / u64::from(polls);
        let wire = Duration::from_secs_f64(bytes as f64 * 10.0 / 115_200.0);
        println!(
            "  {name:<26} {bytes:>5} bytes/poll  wire {:>7.1} ms  measured {:>7.1} ms  ratio {:.3}",
            wire.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() / wire.as_secs_f64()
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decoder(&mut c);
    end_to_end(&mut c);
    c.final_summary();
    wire_time_comparison();
}
