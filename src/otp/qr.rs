//! QR codes of `otpauth://` URIs: SVG for the enrollment page, block
//! characters for a terminal.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// An inline `<svg>` element showing `text`; `None` if it is too long.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#111111"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML, the XML declaration before `<svg` has no place.
    let start = image.find("<svg")?;
    Some(image[start..].to_owned())
}

/// `text` as a QR code of half-block characters, light on dark so it
/// scans from a dark terminal too (the quiet zone is drawn).
pub fn terminal(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_otpauth_uri_renders_as_svg_and_as_text() {
        let uri = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
        let svg = svg(uri).expect("svg");
        assert!(svg.contains("<svg"), "{svg}");
        let text = terminal(uri).expect("text");
        assert!(text.lines().count() > 10);
    }
}
