//! Benchmark: the receipt printer.
//!
//! - encode time per receipt (application receipt, checklist) for 58 mm (raster QR) and 80 mm
//!   (native QR);
//! - bytes per receipt with native and raster QR (printed once, not timed);
//! - stream time of a receipt through the real driver to the simulator on a pty at 9600 and
//!   115200 baud, against the wire time (the driver paces writes to the baud).
//!
//! Run: `cargo bench --no-default-features --bench printer`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use village_kiosk::catalog::demo::demo_catalog;
use village_kiosk::printer::escpos::encode_job;
use village_kiosk::printer::profile::QrMode;
use village_kiosk::printer::receipt::{application_receipt, checklist, sample_receipt};
use village_kiosk::printer::{PaperState, Printer, PrinterProfile, PrinterSettings};
use village_kiosk::sim::printer::{PrinterSimulator, SimPrinterOptions};

fn profile(name: &str) -> PrinterProfile {
    PrinterProfile::builtin(name).expect("shipped profile")
}

fn encode(c: &mut Criterion) {
    let receipt = application_receipt(&sample_receipt());
    let item = demo_catalog().items.into_iter().next().expect("demo item");
    let list = checklist(&item, "示范县城关镇东关村便民服务站", Default::default());
    let mut g = c.benchmark_group("printer/encode");
    for name in ["generic-58mm", "generic-80mm"] {
        let p = profile(name);
        g.bench_function(format!("receipt/{name}"), |b| {
            b.iter(|| encode_job(black_box(&receipt), &p).expect("encodes"))
        });
        g.bench_function(format!("checklist/{name}"), |b| {
            b.iter(|| encode_job(black_box(&list), &p).expect("encodes"))
        });
    }
    g.finish();
}

fn bytes_per_receipt() {
    let receipt = application_receipt(&sample_receipt());
    println!("bytes per application receipt:");
    for name in ["generic-58mm", "generic-80mm"] {
        for qr in [QrMode::Native, QrMode::Raster] {
            let mut p = profile(name);
            p.qr = qr;
            let bytes = encode_job(&receipt, &p).expect("encodes");
            println!("  {name:<13} {qr:?} QR: {} bytes", bytes.len());
        }
    }
}

fn stream_time() {
    let receipt = application_receipt(&sample_receipt());
    println!("stream time through driver -> pty -> simulator (mean of 3):");
    for (name, qr, baud) in [
        ("generic-80mm", QrMode::Native, 9600),
        ("generic-80mm", QrMode::Native, 115_200),
        ("generic-58mm", QrMode::Raster, 9600),
        ("generic-58mm", QrMode::Raster, 115_200),
    ] {
        let mut p = profile(name);
        p.qr = qr;
        p.baud = baud;
        let sim = PrinterSimulator::start(SimPrinterOptions {
            profile: p.clone(),
            state: PaperState::Ok,
            ..SimPrinterOptions::default()
        })
        .expect("pty");
        let printer = Printer::new(PrinterSettings {
            port: sim.path().to_path_buf(),
            profile: p.clone(),
        });
        let bytes = encode_job(&receipt, &p).expect("encodes");
        let mut stream = Duration::ZERO;
        let mut wire = Duration::ZERO;
        let runs = 3;
        for _ in 0..runs {
            let r = printer
                .print_bytes_blocking(bytes.clone())
                .expect("prints on the simulator");
            stream += r.stream_time;
            wire = r.wire_time;
        }
        let stream = stream / runs;
        println!(
            "  {name:<13} {qr:?} QR {baud:>6} baud: {:>5} bytes, stream {:>7.3} s, wire {:>7.3} s ({:+.1}%)",
            bytes.len(),
            stream.as_secs_f64(),
            wire.as_secs_f64(),
            (stream.as_secs_f64() / wire.as_secs_f64() - 1.0) * 100.0
        );
    }
}

criterion_group!(benches, encode);

fn main() {
    bytes_per_receipt();
    stream_time();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
