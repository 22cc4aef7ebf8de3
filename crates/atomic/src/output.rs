//! Writing to stdout the way a Unix tool should: `atomic … | head` ends quietly when the reader
//! goes away instead of panicking on a broken pipe.

use std::io::Write;

/// Write one line to stdout.
pub fn line(text: &str) {
    text_out(&format!("{text}\n"));
}

/// Write text as is to stdout.
pub fn text_out(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}
