//! Read-only reports and their renderers (JSON, CSV, HTML).

pub mod board;
pub mod csv;
pub mod html;
pub mod monthly;

