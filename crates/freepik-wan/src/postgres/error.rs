use std::fmt;

/// A failure of a PostgreSQL-backed store.
///
/// Messages name the database without its password.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database's address or credentials cannot be used.
    Config(String),
    /// The server could not be reached, or refused the connection.
    Connect {
        /// The database, as [`Database`](super::Database) shows it.
        database: String,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// A statement failed, or the connection broke while it ran.
    Query {
        /// What the store was doing.
        what: &'static str,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// The database holds a schema newer than this build knows.
    NewerSchema {
        /// The store whose schema it is.
        component: &'static str,
        /// The database, as [`Database`](super::Database) shows it.
        database: String,
        /// The version found.
        found: i32,
        /// The newest version this build knows.
        known: i32,
    },
}

impl StoreError {
    /// A failed statement, for `map_err`.
    pub fn query(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
        move |source| StoreError::Query { what, source }
    }

    /// Whether the connection is gone (the server stopped, the network
    /// dropped it): reconnecting may help, unlike a refused statement.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Query { source, .. } => {
                source.is_closed()
                    || source.as_db_error().is_none_or(|db| {
                        // Class 08 (connection exception) and 57P (operator intervention: shutdown).
                        let code = db.code().code();
                        code.starts_with("08") || code.starts_with("57P")
                    })
            }
            _ => false,
        }
    }
}

/// The driver's error with the server's own message, which its `Display`
/// leaves out ("db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Config(why) => f.write_str(why),
            StoreError::Connect { database, source } => {
                write!(
                    f,
                    "cannot connect to PostgreSQL at {database}: {}",
                    describe(source)
                )
            }
            StoreError::Query { what, source } => {
                write!(f, "PostgreSQL failed to {what}: {}", describe(source))
            }
            StoreError::NewerSchema {
                component,
                database,
                found,
                known,
            } => write!(
                f,
                "{database} holds {component} at schema version {found}, written by a newer \
                 freepik-wan (this one knows versions 1 to {known}): run the newer version, \
                 or use another database"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Connect { source, .. } | StoreError::Query { source, .. } => Some(source),
            _ => None,
        }
    }
}
