//! The SQLite engine behind the seam: rusqlite's statements, cached per connection.

/// A prepared SQLite statement: kept in the connection's cache, or for one use.
pub enum Statement<'c> {
    Cached(rusqlite::CachedStatement<'c>),
    Once(rusqlite::Statement<'c>),
}

impl<'c> Statement<'c> {
    pub fn get(&mut self) -> &mut rusqlite::Statement<'c> {
        match self {
            Statement::Cached(s) => s,
            Statement::Once(s) => s,
        }
    }
}
