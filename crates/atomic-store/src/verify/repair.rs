//! `images verify --repair`.
