//! Fuzz target: the social security card reader's frame decoder (`vk-sscard-1`), the BER-TLV
//! parser and the account-reading state machine must never panic; every frame the decoder
//! yields must have been in the input with a correct check byte, and every account the state
//! machine returns must pass the Luhn check.

#![no_main]

use libfuzzer_sys::fuzz_target;
use village_kiosk::sscard::emv::{AccountRead, Step, luhn_ok, parse_tlvs};
use village_kiosk::sscard::frame::{Decoded, FrameDecoder, Reply, Request, checksum};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(first) + 1;
    let mut d = FrameDecoder::new();
    let mut machine = AccountRead::start().0;
    for chunk in input.chunks(piece) {
        d.push(chunk);
        while let Some(decoded) = d.next_frame() {
            let Decoded::Frame { code, data } = decoded else {
                continue;
            };
            let mut frame = vec![0x5A, 0xA5];
            frame.extend_from_slice(&u16::try_from(data.len() + 1).unwrap().to_be_bytes());
            frame.push(code);
            frame.extend_from_slice(&data);
            frame.push(checksum(&frame[2..]));
            assert!(
                input.windows(frame.len()).any(|w| w == frame.as_slice()),
                "frame not present in the input"
            );
            let _ = Request::from_frame(code, &data);
            if let Ok(Reply::Response(r)) = Reply::from_frame(code, &data) {
                let _ = parse_tlvs(&r);
                match machine.on_response(&r) {
                    Ok(Step::Done(account)) => assert!(luhn_ok(account.digits())),
                    Ok(Step::Send(_)) => {}
                    Err(_) => machine = AccountRead::start().0,
                }
            }
        }
    }
});
