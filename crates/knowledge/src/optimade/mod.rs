//! OPTIMADE, the materials databases' common API, over BMCI's entries: the filter language
//! (`filter`), structures and their derived attributes (`structure`), the entries from the
//! seed data set (`database`), the seed with verified runs' values (`live`) and the API itself
//! (`api`).

pub mod api;
pub mod database;
mod eval;
pub mod filter;
pub mod live;
pub mod structure;

pub use api::{Request, Response, handle};
pub use database::Database;
pub use live::Bmci;
