//! Controller of `SubmittedAdapter`: the receipt number, who applied for whom when a helper
//! filed it (帮办代办), 待上传 when queued, the printed receipt, or, when the printer fails, the
//! number and its QR code on screen.

use std::rc::Rc;

use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer};

use super::shell::{Kiosk, Next, UiEvent};
use super::visit::PrintState;
use super::{MainWindow, Page, ReceiptPrint, SubmittedAdapter};
use crate::on;
use crate::session::WipeReason;
use crate::station::ports::{DeviceError, ReceiptInfo};

pub fn setup(k: &Rc<Kiosk>) {
    on!(k, SubmittedAdapter, on_rate, |k| {
        let now = k.now();
        k.shell
            .borrow_mut()
            .session
            .advance(crate::session::Stage::Rating, now);
        Next::Replace(Page::Evaluation)
    });
    on!(k, SubmittedAdapter, on_finish, |k| Next::Wipe(
        WipeReason::Finished
    ));
    on!(k, SubmittedAdapter, on_retry_print, |k| {
        if start_printing(k) {
            render(k);
        }
        Next::Stay
    });
}

/// Arriving after a submission: the receipt goes to the printer.
pub fn enter(k: &Kiosk) -> Next {
    start_printing(k);
    Next::Stay
}

/// Prints the visit's receipt, if it has one; returns whether it did.
fn start_printing(k: &Kiosk) -> bool {
    let receipt = {
        let mut v = k.visit.borrow_mut();
        let Some(receipt) = v.submitted.submission.as_ref().map(|(_, r)| r.clone()) else {
            return false;
        };
        v.submitted.print = PrintState::Printing;
        receipt
    };
    print_receipt(k, receipt);
    true
}

fn print_receipt(k: &Kiosk, receipt: ReceiptInfo) {
    let visit = k.visit_number();
    let printer = k.services.printer.clone();
    k.spawn_blocking(move || UiEvent::ReceiptPrinted {
        visit,
        result: printer.print_receipt(&receipt),
    });
}

pub fn on_printed(k: &Kiosk, result: Result<(), DeviceError>) -> Next {
    let state = match result {
        Ok(()) => PrintState::Printed,
        Err(e) => {
            tracing::warn!("receipt printing failed: {}", e.detail);
            PrintState::Failed(e)
        }
    };
    k.visit.borrow_mut().submitted.print = state;
    if k.page() == Page::Submitted {
        render(k);
    }
    Next::Stay
}

/// A QR code as an image for the screen (black modules on white, 4-module quiet zone).
pub fn qr_image(payload: &str) -> Option<Image> {
    let code = qrcode::QrCode::new(payload.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let scale = 6;
    let size = (width + 2 * quiet) * scale;
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(size as u32, size as u32);
    let pixels = buf.make_mut_slice();
    for p in pixels.iter_mut() {
        *p = Rgb8Pixel {
            r: 255,
            g: 255,
            b: 255,
        };
    }
    for y in 0..width {
        for x in 0..width {
            if colors[y * width + x] == qrcode::Color::Dark {
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = (x + quiet) * scale + dx;
                        let py = (y + quiet) * scale + dy;
                        pixels[py * size + px] = Rgb8Pixel { r: 0, g: 0, b: 0 };
                    }
                }
            }
        }
    }
    Some(Image::from_rgb8(buf))
}

pub fn render(k: &Kiosk) {
    let lang = k.lang();
    let v = k.visit.borrow();
    let Some((sub, receipt)) = v.submitted.submission.as_ref() else {
        return;
    };
    let a = k.window.global::<SubmittedAdapter>();
    let shown = v.item.as_ref().map(|i| i.translated(lang.tag()));
    let body = shown
        .as_ref()
        .map(|i| i.implementing_body.clone())
        .unwrap_or_default();
    a.set_item_name(
        shown
            .as_ref()
            .map_or_else(|| receipt.item_name.clone(), |i| i.name.clone())
            .into(),
    );
    a.set_receipt_no(sub.receipt_no.clone().into());
    // 帮办代办: the confirmation page's and the receipt's line again (masked names).
    a.set_agent_line(
        receipt
            .agent
            .as_ref()
            .map(|agent| super::l10n::agent_line(agent, &receipt.applicant_masked, lang))
            .unwrap_or_default()
            .into(),
    );
    a.set_queued(sub.queued);
    a.set_status_text(
        if sub.queued {
            lang.pick(
                "申请已受理并保存在本机。县里的网络暂时连不上，恢复后会自动上传（待上传），您不用再跑一趟。",
                "Your application is accepted and stored here. The county cannot be reached right now; it will be sent automatically (waiting to upload).",
            )
        } else {
            lang.pick(
                format!("申请已提交，{body}已收到。"),
                format!("Submitted; {body} has received it."),
            )
        }
        .into(),
    );
    let (print_state, message) = match &v.submitted.print {
        PrintState::Printing => (ReceiptPrint::Printing, String::new()),
        PrintState::Printed => (ReceiptPrint::Printed, String::new()),
        PrintState::Failed(e) => (
            ReceiptPrint::Failed,
            lang.pick(
                format!(
                    "{}，回执没有打印出来。申请不受影响，已经受理。",
                    e.message_zh
                ),
                format!(
                    "{}; the receipt was not printed. Your application is accepted all the same.",
                    e.message_en
                ),
            ),
        ),
    };
    a.set_print_state(print_state);
    a.set_print_message(message.into());
    if print_state == ReceiptPrint::Failed
        && !sub.qr_payload.is_empty()
        && let Some(img) = qr_image(&sub.qr_payload)
    {
        a.set_qr(img);
    }
    let collect = shown
        .as_ref()
        .and_then(|i| i.locations.first().map(|l| l.name.clone()))
        .unwrap_or_default();
    let days = receipt.promised_days;
    a.set_next_steps(
        if days == 0 {
            lang.pick(
                format!("当场办结。结果领取：{collect}。可凭回执编号查询进度。"),
                format!("Decided on the spot. Collect at: {collect}. Check progress with the receipt number."),
            )
        } else {
            lang.pick(
                format!("承诺 {}内办结。结果领取：{collect}。可凭回执编号或身份证查询进度。", super::l10n::working_days(days, super::Lang::Zh)),
                format!("Decided within {}. Collect at: {collect}. Check progress with the receipt number or your ID card.", super::l10n::working_days(days, super::Lang::En)),
            )
        }
        .into(),
    );
}

pub fn clear(w: &MainWindow) {
    let a = w.global::<SubmittedAdapter>();
    a.set_item_name("".into());
    a.set_receipt_no("".into());
    a.set_agent_line("".into());
    a.set_status_text("".into());
    a.set_print_message("".into());
    a.set_next_steps("".into());
    a.set_qr(Image::default());
}
