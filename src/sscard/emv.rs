//! Reading the bank account (PAN) from a social security card's debit application (第三代社保卡
//! 金融账户), sans-IO: BER-TLV parsing, the ISO 7816-4 / PBOC (EMV) command APDUs and the state
//! machine [`AccountRead`] that turns card responses into the next command or the account.
//!
//! The card side is public (ISO/IEC 7816-4, EMV Book 1/3, JR/T 0025 PBOC): SELECT the payment
//! system environment `2PAY.SYS.DDF01`, SELECT the application its FCI names (UnionPay debit
//! `A000000333010101` when the card lists none), GET PROCESSING OPTIONS (the PDOL filled with
//! zeros: no transaction is made), READ RECORD for each record the AFL names, and take tag `5A`
//! (PAN) or `57` (Track 2 equivalent: the PAN before the separator `D`). The PAN must pass the
//! Luhn check. Without an AFL (GPO refused) the first records of SFI 1 are read instead.
//!
//! No I/O and no clock in here. Responses carry the account number, so what this module keeps
//! is zeroised on drop.

use zeroize::Zeroizing;

/// The payment system environment's name (PSE for contact cards: `1PAY.SYS.DDF01`; the PPSE
/// `2PAY.SYS.DDF01` is answered by PBOC 3.0 cards on both interfaces).
pub const PPSE: &[u8] = b"2PAY.SYS.DDF01";

/// UnionPay debit (银联借记), the application of the social security card's bank account.
pub const UNIONPAY_DEBIT: [u8; 8] = [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01];

/// How many records of SFI 1 are tried when the card gives no AFL.
const FALLBACK_RECORDS: u8 = 4;

/// The most records an AFL may make us read (a card asking for more is broken).
const MAX_RECORDS: usize = 32;

/// Why the account could not be read from the card's answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmvError {
    /// Neither the PPSE nor the UnionPay debit application could be selected.
    #[error("the card has no bank (UnionPay debit) application")]
    NoBankApplication,
    /// The records hold neither tag 5A nor tag 57.
    #[error("the card's records hold no account number (tag 5A or 57)")]
    NoAccount,
    /// The account number is not 12 to 19 digits with a valid Luhn check digit.
    #[error("the account number on the card fails its check digit or length")]
    BadAccount,
    /// A response is too short, or its TLV data is malformed.
    #[error("malformed card response: {0}")]
    Malformed(&'static str),
    /// The card answered a step with an unexpected status word.
    #[error("the card refused {step} with status {sw1:02X}{sw2:02X}")]
    Refused {
        step: &'static str,
        sw1: u8,
        sw2: u8,
    },
}

/// One BER-TLV data object: its tag (1 to 3 bytes, as a number) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

impl Tlv<'_> {
    /// A constructed object (its value is more TLV objects).
    pub fn constructed(&self) -> bool {
        let first = if self.tag > 0xFFFF {
            self.tag >> 16
        } else if self.tag > 0xFF {
            self.tag >> 8
        } else {
            self.tag
        };
        first & 0x20 != 0
    }
}

/// Parses a sequence of BER-TLV objects (EMV Book 3 annex B): tags up to 3 bytes, lengths in
/// short form or `81`/`82` long form; `00` and `FF` between objects are padding.
pub fn parse_tlvs(mut data: &[u8]) -> Result<Vec<Tlv<'_>>, EmvError> {
    let mut out = Vec::new();
    while let Some(&first) = data.first() {
        if first == 0x00 || first == 0xFF {
            data = &data[1..];
            continue;
        }
        let mut tag = u32::from(first);
        let mut i = 1;
        if first & 0x1F == 0x1F {
            loop {
                let b = *data.get(i).ok_or(EmvError::Malformed("tag cut short"))?;
                tag = (tag << 8) | u32::from(b);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if i > 3 {
                    return Err(EmvError::Malformed("tag longer than 3 bytes"));
                }
            }
        }
        let l0 = *data.get(i).ok_or(EmvError::Malformed("length missing"))?;
        i += 1;
        let len = match l0 {
            0x00..=0x7F => usize::from(l0),
            0x81 => {
                let l = *data.get(i).ok_or(EmvError::Malformed("length cut short"))?;
                i += 1;
                usize::from(l)
            }
            0x82 => {
                let hi = *data.get(i).ok_or(EmvError::Malformed("length cut short"))?;
                let lo = *data
                    .get(i + 1)
                    .ok_or(EmvError::Malformed("length cut short"))?;
                i += 2;
                usize::from(u16::from_be_bytes([hi, lo]))
            }
            _ => return Err(EmvError::Malformed("unsupported length form")),
        };
        let value = data
            .get(i..i + len)
            .ok_or(EmvError::Malformed("value longer than the data"))?;
        out.push(Tlv { tag, value });
        data = &data[i + len..];
    }
    Ok(out)
}

/// The value of the first object with `tag`, searched depth first through constructed
/// objects.
pub fn find_tag(data: &[u8], tag: u32) -> Result<Option<&[u8]>, EmvError> {
    find_tag_depth(data, tag, 0)
}

fn find_tag_depth(data: &[u8], tag: u32, depth: u8) -> Result<Option<&[u8]>, EmvError> {
    if depth > 8 {
        return Err(EmvError::Malformed("nested too deep"));
    }
    for t in parse_tlvs(data)? {
        if t.tag == tag {
            return Ok(Some(t.value));
        }
        if t.constructed()
            && let Some(v) = find_tag_depth(t.value, tag, depth + 1)?
        {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Every value of `tag` (depth first), e.g. each application template `61` in a PPSE FCI.
fn all_tags(data: &[u8], tag: u32, out: &mut Vec<Vec<u8>>, depth: u8) -> Result<(), EmvError> {
    if depth > 8 {
        return Err(EmvError::Malformed("nested too deep"));
    }
    for t in parse_tlvs(data)? {
        if t.tag == tag {
            out.push(t.value.to_vec());
        } else if t.constructed() {
            all_tags(t.value, tag, out, depth + 1)?;
        }
    }
    Ok(())
}

/// A command APDU (ISO 7816-4 case 3/4 short form, or case 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apdu(pub Vec<u8>);

impl Apdu {
    /// SELECT by name (00 A4 04 00 Lc name 00).
    pub fn select(name: &[u8]) -> Apdu {
        let mut v = vec![0x00, 0xA4, 0x04, 0x00, name.len() as u8];
        v.extend_from_slice(name);
        v.push(0x00);
        Apdu(v)
    }

    /// GET PROCESSING OPTIONS with the PDOL data (80 A8 00 00 Lc 83 L data 00).
    pub fn get_processing_options(pdol_data: &[u8]) -> Apdu {
        let mut v = vec![
            0x80,
            0xA8,
            0x00,
            0x00,
            (pdol_data.len() + 2) as u8,
            0x83,
            pdol_data.len() as u8,
        ];
        v.extend_from_slice(pdol_data);
        v.push(0x00);
        Apdu(v)
    }

    /// READ RECORD `record` of `sfi` (00 B2 record (sfi<<3|4) 00).
    pub fn read_record(sfi: u8, record: u8) -> Apdu {
        Apdu(vec![0x00, 0xB2, record, (sfi << 3) | 0x04, 0x00])
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A response APDU split into data and status word.
fn split_response(rapdu: &[u8]) -> Result<(&[u8], u8, u8), EmvError> {
    match rapdu {
        [data @ .., sw1, sw2] => Ok((data, *sw1, *sw2)),
        _ => Err(EmvError::Malformed("response shorter than a status word")),
    }
}

/// The bank account read from the card: digits only, Luhn-checked; zeroised on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct BankAccount(Zeroizing<String>);

impl BankAccount {
    /// Digits with a valid Luhn check digit, 12 to 19 of them.
    pub fn new(digits: &str) -> Result<BankAccount, EmvError> {
        if (12..=19).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && luhn_ok(digits)
        {
            Ok(BankAccount(Zeroizing::new(digits.to_owned())))
        } else {
            Err(EmvError::BadAccount)
        }
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BankAccount({})",
            crate::pii::Masked::new(self.digits(), crate::pii::PiiKind::BankAccount)
        )
    }
}

/// The Luhn (ISO/IEC 7812-1) check over all digits, the last one being the check digit.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(d) = c.to_digit(10) else {
            return false;
        };
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The nibbles of `bytes` as hex digits ('0'..'9', 'A'..'F').
fn nibbles(bytes: &[u8]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for b in bytes {
        for n in [b >> 4, b & 0x0F] {
            s.push(
                char::from_digit(u32::from(n), 16)
                    .unwrap_or('?')
                    .to_ascii_uppercase(),
            );
        }
    }
    s
}

/// The account from tag 5A (BCD, padded with F) or 57 (Track 2: PAN, `D`, expiry, ...).
pub fn account_from_record(record: &[u8]) -> Result<Option<BankAccount>, EmvError> {
    if let Some(pan) = find_tag(record, 0x5A)? {
        let digits = nibbles(pan);
        return BankAccount::new(digits.trim_end_matches('F')).map(Some);
    }
    if let Some(track2) = find_tag(record, 0x57)? {
        let digits = nibbles(track2);
        let pan = digits
            .split('D')
            .next()
            .filter(|_| digits.contains('D'))
            .ok_or(EmvError::Malformed("track 2 without separator"))?;
        return BankAccount::new(pan).map(Some);
    }
    Ok(None)
}

/// The PDOL's (tag, length) list, for zero-filled PDOL data.
fn dol_length(dol: &[u8]) -> Result<usize, EmvError> {
    let mut total = 0usize;
    let mut i = 0;
    while i < dol.len() {
        let first = dol[i];
        i += 1;
        if first & 0x1F == 0x1F {
            while dol
                .get(i)
                .ok_or(EmvError::Malformed("PDOL tag cut short"))?
                & 0x80
                != 0
            {
                i += 1;
            }
            i += 1;
        }
        total += usize::from(
            *dol.get(i)
                .ok_or(EmvError::Malformed("PDOL length missing"))?,
        );
        i += 1;
    }
    if total > 250 {
        return Err(EmvError::Malformed("PDOL too long"));
    }
    Ok(total)
}

/// The records an AFL names: (SFI, record) pairs.
fn afl_records(afl: &[u8]) -> Result<Vec<(u8, u8)>, EmvError> {
    if !afl.len().is_multiple_of(4) {
        return Err(EmvError::Malformed("AFL not a multiple of 4 bytes"));
    }
    let mut out = Vec::new();
    for e in afl.chunks_exact(4) {
        let sfi = e[0] >> 3;
        if sfi == 0 || e[1] == 0 || e[2] < e[1] {
            return Err(EmvError::Malformed("impossible AFL entry"));
        }
        for r in e[1]..=e[2] {
            out.push((sfi, r));
        }
    }
    if out.len() > MAX_RECORDS {
        return Err(EmvError::Malformed("AFL names too many records"));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    SelectPpse,
    /// Selecting this application; `fallback`: it is the UnionPay default, not the PPSE's.
    SelectApp {
        fallback: bool,
    },
    Gpo,
    /// Reading these records, the current first.
    Records {
        left: Vec<(u8, u8)>,
        from_afl: bool,
    },
    Done,
}

/// What to do after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this APDU and pass its response to [`AccountRead::on_response`].
    Send(Apdu),
    /// The account was read.
    Done(BankAccount),
}

/// The state machine reading the account: [`AccountRead::start`] gives the first APDU, every
/// response gives the next step or an error (after which the machine is finished).
#[derive(Debug)]
pub struct AccountRead {
    state: State,
}

impl AccountRead {
    /// The machine and its first command (SELECT PPSE).
    pub fn start() -> (AccountRead, Apdu) {
        (
            AccountRead {
                state: State::SelectPpse,
            },
            Apdu::select(PPSE),
        )
    }

    /// Whether the machine has finished (done or failed).
    pub fn finished(&self) -> bool {
        self.state == State::Done
    }

    /// The card's response (data and SW1 SW2) to the last command.
    pub fn on_response(&mut self, rapdu: &[u8]) -> Result<Step, EmvError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let (data, sw1, sw2) = split_response(rapdu)?;
        let ok = (sw1, sw2) == (0x90, 0x00);
        match state {
            State::SelectPpse => {
                let aid = if ok { pick_aid(data)? } else { None };
                match aid {
                    Some(aid) => self.go(State::SelectApp { fallback: false }, Apdu::select(&aid)),
                    None => self.go(
                        State::SelectApp { fallback: true },
                        Apdu::select(&UNIONPAY_DEBIT),
                    ),
                }
            }
            State::SelectApp { fallback } => {
                if !ok {
                    return if fallback {
                        Err(EmvError::NoBankApplication)
                    } else {
                        // The PPSE named an application that will not open: try UnionPay debit.
                        self.go(
                            State::SelectApp { fallback: true },
                            Apdu::select(&UNIONPAY_DEBIT),
                        )
                    };
                }
                let pdol_len = match find_tag(data, 0x9F38)? {
                    Some(dol) => dol_length(dol)?,
                    None => 0,
                };
                let zeros = Zeroizing::new(vec![0u8; pdol_len]);
                self.go(State::Gpo, Apdu::get_processing_options(&zeros))
            }
            State::Gpo => {
                let afl = if ok { gpo_afl(data)? } else { None };
                let (mut left, from_afl) = match afl {
                    Some(records) if !records.is_empty() => (records, true),
                    _ => ((1..=FALLBACK_RECORDS).map(|r| (1, r)).collect(), false),
                };
                let (sfi, rec) = left.remove(0);
                self.go(
                    State::Records { left, from_afl },
                    Apdu::read_record(sfi, rec),
                )
            }
            State::Records { mut left, from_afl } => {
                if ok && let Some(account) = account_from_record(data)? {
                    return Ok(Step::Done(account));
                }
                if !ok && from_afl {
                    return Err(EmvError::Refused {
                        step: "READ RECORD",
                        sw1,
                        sw2,
                    });
                }
                if left.is_empty() {
                    return Err(EmvError::NoAccount);
                }
                let (sfi, rec) = left.remove(0);
                self.go(
                    State::Records { left, from_afl },
                    Apdu::read_record(sfi, rec),
                )
            }
            State::Done => Err(EmvError::Malformed("a response after the read finished")),
        }
    }

    fn go(&mut self, state: State, apdu: Apdu) -> Result<Step, EmvError> {
        self.state = state;
        Ok(Step::Send(apdu))
    }
}

/// The AID of the PPSE's preferred application (lowest priority indicator `87`), preferring
/// UnionPay debit on a tie.
fn pick_aid(fci: &[u8]) -> Result<Option<Vec<u8>>, EmvError> {
    let mut templates = Vec::new();
    all_tags(fci, 0x61, &mut templates, 0)?;
    let mut best: Option<(u8, Vec<u8>)> = None;
    for t in &templates {
        let Some(aid) = find_tag(t, 0x4F)? else {
            continue;
        };
        let priority =
            find_tag(t, 0x87)?
                .and_then(|p| p.first().copied())
                .map_or(0x0F, |p| match p & 0x0F {
                    0 => 0x0F,
                    p => p,
                });
        let better = match &best {
            None => true,
            Some((p, a)) => priority < *p || (priority == *p && aid == UNIONPAY_DEBIT && a != aid),
        };
        if better {
            best = Some((priority, aid.to_vec()));
        }
    }
    Ok(best.map(|(_, a)| a))
}

/// The records from a GPO response: format 1 (`80`: AIP, AFL) or format 2 (`77` with `94`).
fn gpo_afl(data: &[u8]) -> Result<Option<Vec<(u8, u8)>>, EmvError> {
    let tlvs = parse_tlvs(data)?;
    let Some(first) = tlvs.first() else {
        return Ok(None);
    };
    let afl = match first.tag {
        0x80 => first.value.get(2..),
        0x77 => find_tag(first.value, 0x94)?,
        _ => None,
    };
    afl.map(afl_records).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const PAN: &str = "6217000010001234569";

    /// PPSE FCI naming UnionPay debit (priority 1).
    fn ppse_fci() -> Vec<u8> {
        hex(
            "6F 24 84 0E 325041592E5359532E4444463031 A5 12 BF0C 0F 61 0D 4F 08 A000000333010101 87 01 01 9000",
        )
    }

    #[test]
    fn tlv_parses_multibyte_tags_long_lengths_and_padding() {
        let data = hex("00 9F38 03 9F6604 FF 70 81 03 5A 01 12");
        let tlvs = parse_tlvs(&data).unwrap();
        assert_eq!(tlvs.len(), 2);
        assert_eq!(tlvs[0].tag, 0x9F38);
        assert_eq!(tlvs[0].value, &hex("9F6604")[..]);
        assert!(!tlvs[0].constructed());
        assert_eq!(tlvs[1].tag, 0x70);
        assert!(tlvs[1].constructed());
        assert_eq!(find_tag(&data, 0x5A).unwrap(), Some(&[0x12][..]));
        assert_eq!(
            parse_tlvs(&hex("5A 05 01")),
            Err(EmvError::Malformed("value longer than the data"))
        );
        assert_eq!(
            parse_tlvs(&hex("9F")),
            Err(EmvError::Malformed("tag cut short"))
        );
        assert_eq!(
            parse_tlvs(&hex("5A 83 000001")),
            Err(EmvError::Malformed("unsupported length form"))
        );
    }

    #[test]
    fn luhn_accepts_valid_accounts_and_refuses_a_changed_digit() {
        assert!(luhn_ok(PAN));
        assert!(luhn_ok("79927398713"));
        assert!(!luhn_ok("6217000010001234560"));
        assert!(!luhn_ok(""));
        assert!(BankAccount::new(PAN).is_ok());
        assert_eq!(
            BankAccount::new("79927398713"),
            Err(EmvError::BadAccount),
            "11 digits"
        );
        let shown = format!("{:?}", BankAccount::new(PAN).unwrap());
        assert!(!shown.contains(PAN), "{shown}");
    }

    #[test]
    fn the_account_comes_from_tag_5a_or_from_track_2() {
        let rec = hex("70 0C 5A 0A 6217000010001234569F");
        assert_eq!(account_from_record(&rec).unwrap().unwrap().digits(), PAN);
        let rec = hex("70 15 57 13 6217000010001234569D30122010000000000F");
        assert_eq!(account_from_record(&rec).unwrap().unwrap().digits(), PAN);
        let bad = hex("70 0C 5A 0A 6217000010001234560F");
        assert_eq!(account_from_record(&bad), Err(EmvError::BadAccount));
        assert_eq!(account_from_record(&hex("70 04 5F2401 00")).unwrap(), None);
    }

    #[test]
    fn the_whole_read_selects_gets_options_and_reads_the_afl_records() {
        let (mut m, first) = AccountRead::start();
        assert_eq!(
            first.bytes(),
            &hex("00A404000E 325041592E5359532E4444463031 00")[..]
        );
        let Step::Send(select) = m.on_response(&ppse_fci()).unwrap() else {
            panic!("expected a command")
        };
        assert_eq!(select.bytes(), &hex("00A4040008 A000000333010101 00")[..]);
        // The application's FCI with a PDOL of 4 + 6 bytes.
        let fci =
            hex("6F 1B 84 08 A000000333010101 A5 0F 50 04 50424F43 9F38 06 9F6604 9F0206 9000");
        let Step::Send(gpo) = m.on_response(&fci).unwrap() else {
            panic!("expected GPO")
        };
        assert_eq!(
            gpo.bytes(),
            &hex("80A800000C 830A 00000000000000000000 00")[..]
        );
        // Format 2: AFL SFI 1 records 1-2, SFI 2 record 1.
        let gpo_answer = hex("77 0E 82 02 7C00 94 08 08010200 10010100 9000");
        let Step::Send(r1) = m.on_response(&gpo_answer).unwrap() else {
            panic!("expected READ RECORD")
        };
        assert_eq!(r1.bytes(), &hex("00B2010C00")[..]);
        let Step::Send(r2) = m.on_response(&hex("70 04 5F2401 30 9000")).unwrap() else {
            panic!("expected the next record")
        };
        assert_eq!(r2.bytes(), &hex("00B2020C00")[..]);
        let done = m
            .on_response(&hex("70 0C 5A 0A 6217000010001234569F 9000"))
            .unwrap();
        assert_eq!(done, Step::Done(BankAccount::new(PAN).unwrap()));
    }

    #[test]
    fn without_a_ppse_the_unionpay_debit_application_is_tried_and_its_absence_told() {
        let (mut m, _) = AccountRead::start();
        let Step::Send(select) = m.on_response(&hex("6A82")).unwrap() else {
            panic!()
        };
        assert_eq!(select.bytes(), &hex("00A4040008 A000000333010101 00")[..]);
        assert_eq!(
            m.on_response(&hex("6A82")),
            Err(EmvError::NoBankApplication)
        );
        assert!(m.finished());
    }

    #[test]
    fn a_refused_gpo_falls_back_to_the_records_of_sfi_1() {
        let (mut m, _) = AccountRead::start();
        m.on_response(&ppse_fci()).unwrap();
        let Step::Send(gpo) = m
            .on_response(&hex("6F 0A 84 08 A000000333010101 9000"))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(gpo.bytes(), &hex("80A8000002 8300 00")[..]);
        let Step::Send(r) = m.on_response(&hex("6985")).unwrap() else {
            panic!()
        };
        assert_eq!(r.bytes(), &hex("00B2010C00")[..]);
        for _ in 1..FALLBACK_RECORDS {
            assert!(matches!(m.on_response(&hex("6A83")), Ok(Step::Send(_))));
        }
        assert_eq!(m.on_response(&hex("6A83")), Err(EmvError::NoAccount));
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        let (mut m, _) = AccountRead::start();
        assert_eq!(
            m.on_response(&[0x90]),
            Err(EmvError::Malformed("response shorter than a status word"))
        );
        let (mut m, _) = AccountRead::start();
        m.on_response(&ppse_fci()).unwrap();
        m.on_response(&hex("6F 0A 84 08 A000000333010101 9000"))
            .unwrap();
        assert_eq!(
            m.on_response(&hex("80 06 7C00 08010000 9000")),
            Err(EmvError::Malformed("impossible AFL entry"))
        );
        assert_eq!(
            afl_records(&hex("08010203 04")),
            Err(EmvError::Malformed("AFL not a multiple of 4 bytes"))
        );
    }
}
