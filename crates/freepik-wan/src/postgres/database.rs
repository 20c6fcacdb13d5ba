use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

use super::StoreError;

/// Where a PostgreSQL database is, and how to log in to it.
///
/// Built from a `postgres://` URL or a `key=value` string, as `libpq` takes
/// them. What the string leaves out comes from the standard variables, as
/// `psql` would take it: `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`,
/// `PGPASSWORD`, then the password file (`PGPASSFILE`, or `~/.pgpass`). A
/// password can also come from a file of its own
/// ([`password_file`](Self::password_file)), as container secrets are
/// mounted, so that it need not be in a URL on a command line.
///
/// `Display` and `Debug` show the database without its password:
///
/// ```
/// use freepik_wan::postgres::Database;
///
/// let database = Database::from_url("postgres://app:s3cret@db.internal:6432/videos")?;
/// assert_eq!(database.to_string(), "postgres://app@db.internal:6432/videos");
/// assert!(!format!("{database:?}").contains("s3cret"));
/// # Ok::<(), freepik_wan::postgres::StoreError>(())
/// ```
#[derive(Clone)]
pub struct Database {
    config: Config,
}

impl Database {
    /// Parses a `postgres://` URL or `key=value` string, filling what it
    /// leaves out from the `PG*` variables and the password file.
    ///
    /// # Errors
    /// [`StoreError::Config`] when the string is neither, or asks for TLS
    /// (`sslmode=require`), which is not built in.
    pub fn from_url(url: &str) -> Result<Database, StoreError> {
        Self::from_url_with_env(url, |name| std::env::var(name).ok())
    }

    /// [`from_url`](Self::from_url) with the environment given as a lookup,
    /// for tests and for programs that keep their settings elsewhere.
    ///
    /// # Errors
    /// As [`from_url`](Self::from_url).
    pub fn from_url_with_env(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Database, StoreError> {
        let mut config = Config::from_str(url).map_err(|e| {
            // The driver's message quotes no input, so the password stays out.
            StoreError::Config(format!("not a PostgreSQL URL or key=value string: {e}"))
        })?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Config(
                "sslmode=require: TLS to PostgreSQL is not built into freepik-wan; connect over a \
                 private network, a Unix socket or a local TLS proxy (sslmode=disable or prefer)"
                    .into(),
            ));
        }
        if config.get_hosts().is_empty() {
            config.host(env("PGHOST").as_deref().unwrap_or("localhost"));
        }
        if config.get_ports().is_empty()
            && let Some(port) = env("PGPORT")
        {
            let port = port.parse().map_err(|_| {
                StoreError::Config(format!("PGPORT is not a port number: {port:?}"))
            })?;
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER").or_else(|| env("USER")).ok_or_else(|| {
                StoreError::Config("no PostgreSQL user: name one in the URL or PGUSER".into())
            })?;
            config.user(&user);
        }
        if config.get_dbname().is_none()
            && let Some(db) = env("PGDATABASE")
        {
            config.dbname(&db);
        }
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD") {
                config.password(password);
            } else {
                let file = env("PGPASSFILE")
                    .map(PathBuf::from)
                    .or_else(|| env("HOME").map(|home| Path::new(&home).join(".pgpass")));
                if let Some(password) =
                    file.and_then(|f| std::fs::read_to_string(f).ok())
                        .and_then(|text| {
                            let database = Database {
                                config: config.clone(),
                            };
                            database.password_in_pgpass(&text)
                        })
                {
                    config.password(password);
                }
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // A dead peer (a server that lost power, a dropped NAT mapping) is
        // noticed within a minute instead of at the kernel's two hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(20));
        if config.get_application_name().is_none() {
            config.application_name("freepik-wan");
        }
        Ok(Database { config })
    }

    /// Reads the password from `path`: the file's first line, as mounted
    /// secrets hold it. It replaces one from the URL or the variables.
    ///
    /// # Errors
    /// [`StoreError::Config`] when the file cannot be read or is empty.
    pub fn password_file(mut self, path: impl AsRef<Path>) -> Result<Database, StoreError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Config(format!(
                "cannot read the PostgreSQL password file {}: {e}",
                path.display()
            ))
        })?;
        let password = text.lines().next().unwrap_or("");
        if password.is_empty() {
            return Err(StoreError::Config(format!(
                "the PostgreSQL password file {} is empty",
                path.display()
            )));
        }
        self.config.password(password);
        Ok(self)
    }

    /// The driver's configuration, to set what this type does not.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Opens a connection, whose driver task runs on the current Tokio
    /// runtime until the client is dropped or the connection breaks.
    ///
    /// # Errors
    /// [`StoreError::Connect`] when the server cannot be reached or refuses
    /// the login.
    pub async fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) =
            self.config
                .connect(NoTls)
                .await
                .map_err(|source| StoreError::Connect {
                    database: self.to_string(),
                    source,
                })?;
        let shown = self.to_string();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(database = %shown, %error, "the PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// The password `.pgpass` text holds for this database, if any: the first
    /// line whose host, port, database and user match (`*` matches any).
    fn password_in_pgpass(&self, text: &str) -> Option<String> {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            #[cfg(unix)]
            Some(Host::Unix(_)) => "localhost".into(),
            None => "localhost".into(),
        };
        let port = self
            .config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string();
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or(user);
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find_map(|line| {
                let fields = pgpass_fields(line);
                let [h, p, d, u, password] = fields.as_slice() else {
                    return None;
                };
                let fits = |field: &String, value: &str| field == "*" || field == value;
                (fits(h, &host) && fits(p, &port) && fits(d, db) && fits(u, user))
                    .then(|| password.clone())
            })
    }
}

/// A `.pgpass` line's five fields; `\:` and `\\` are escapes.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().unwrap().extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("postgres://")?;
        if let Some(user) = self.config.get_user() {
            write!(f, "{user}@")?;
        }
        let ports = self.config.get_ports();
        for (i, host) in self.config.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) => f.write_str(name)?,
                #[cfg(unix)]
                Host::Unix(path) => write!(f, "[{}]", path.display())?,
            }
            if let Some(port) = ports.get(i).or(ports.first()) {
                write!(f, ":{port}")?;
            }
        }
        write!(
            f,
            "/{}",
            self.config
                .get_dbname()
                .or(self.config.get_user())
                .unwrap_or("")
        )
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Database").field(&self.to_string()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_variables_fill_what_the_url_leaves_out_and_the_password_is_never_shown() {
        let db = Database::from_url_with_env(
            "postgres:///jobs",
            env(&[
                ("PGHOST", "db.internal"),
                ("PGUSER", "worker"),
                ("PGPASSWORD", "hunter2"),
            ]),
        )
        .unwrap();
        assert_eq!(db.to_string(), "postgres://worker@db.internal/jobs");
        assert_eq!(db.config.get_password(), Some(&b"hunter2"[..]));
        assert!(!format!("{db:?}").contains("hunter2"));
    }

    #[test]
    fn a_pgpass_line_matching_host_port_database_and_user_gives_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:nope\ndb.internal:5432:*:app:pa\\:ss\n",
        )
        .unwrap();
        let file = file.display().to_string();
        let db = Database::from_url_with_env("postgres://app@db.internal/videos", move |name| {
            (name == "PGPASSFILE").then(|| file.clone())
        })
        .unwrap();
        assert_eq!(db.config.get_password(), Some(&b"pa:ss"[..]));
    }

    #[test]
    fn a_password_file_replaces_the_url_password_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        let db = Database::from_url_with_env("postgres://app:old@h/d", env(&[])).unwrap();
        let db = db.password_file(&file).unwrap();
        assert_eq!(db.config.get_password(), Some(&b"from-file"[..]));
        std::fs::write(&file, "").unwrap();
        let error = db.password_file(&file).unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
    }

    #[test]
    fn text_that_is_no_database_and_required_tls_are_refused_without_echoing_the_password() {
        let error = Database::from_url_with_env("postgres://a:topsecret@h:notaport/d", env(&[]))
            .unwrap_err();
        assert!(!error.to_string().contains("topsecret"), "{error}");
        let error =
            Database::from_url_with_env("postgres://a@h/d?sslmode=require", env(&[])).unwrap_err();
        assert!(error.to_string().contains("TLS"), "{error}");
    }
}
