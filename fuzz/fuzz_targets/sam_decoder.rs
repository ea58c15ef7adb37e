//! Fuzz target: the SAM response and request decoders, the read-data parser and the text-block
//! decoder must never panic, and every frame the decoder yields must have been in the input
//! with a correct checksum.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::idcard::card::IdCard;
use village_kiosk::idcard::protocol::{
    FrameDecoder, FrameKind, HEADER_LEN, MAX_LENGTH, PREAMBLE, ReadData, Request, Response,
    checksum,
};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn check_frame(input: &[u8], encoded: &[u8]) {
    let chk = checksum(&encoded[PREAMBLE.len()..encoded.len() - 1]);
    assert_eq!(chk, encoded[encoded.len() - 1], "frame with a bad checksum");
    assert!(contains(input, encoded), "frame not present in the input");
}

fn run<F: FrameKind>(input: &[u8], piece: usize, mut each: impl FnMut(&F)) {
    let mut d = FrameDecoder::<F>::new();
    for chunk in input.chunks(piece) {
        d.push(chunk);
        while let Some(frame) = d.next_frame() {
            if let Ok(f) = frame {
                each(&f);
            }
        }
        assert!(d.buffered() <= HEADER_LEN + MAX_LENGTH as usize);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(first) + 1;
    run::<Response>(input, piece, |r| {
        check_frame(input, &r.encode());
        for fp in [false, true] {
            if let Ok(read) = ReadData::parse(&r.data, fp) {
                let _ = IdCard::decode(&read.text, read.photo.clone());
            }
        }
    });
    run::<Request>(input, piece, |r| check_frame(input, &r.encode()));
    if input.len() >= 256 {
        let _ = IdCard::decode(&input[..256], Vec::new());
    }
});
