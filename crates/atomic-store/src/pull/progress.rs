//! Progress bars for pulls. Being written.
