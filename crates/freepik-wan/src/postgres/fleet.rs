//! Seats: a fixed number of places in a fleet of workers that share one
//! budget (the service's per-IP rate limits), each held by at most one
//! worker at a time under a lease it renews.
//!
//! A pool of `N` seats lets at most `N` workers work at once, so a worker
//! that holds a seat and paces itself at `1/N` of the budget
//! ([`RateLimit::share`](crate::RateLimit::share)) keeps the fleet inside
//! the whole budget, however many workers start. A seat is taken in a short
//! transaction with `FOR UPDATE SKIP LOCKED` (free, or its holder's lease
//! lapsed), renewed by its holder while its lease holds, and never renewed
//! once lapsed: a holder that could not renew in time must stop sending
//! before its lease lapses, which it tells by its own monotonic clock
//! ([`Seat::usable`]).

use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::Client;

use super::{Database, Migrations, StoreError};

/// The seats' table, shared by every pool.
pub const MIGRATIONS: Migrations = Migrations {
    component: "freepik_wan_fleet",
    steps: &["CREATE TABLE freepik_wan_fleet_pools (
            pool text PRIMARY KEY,
            seats integer NOT NULL CHECK (seats > 0)
        );
        CREATE TABLE freepik_wan_fleet_seats (
            pool text NOT NULL REFERENCES freepik_wan_fleet_pools (pool),
            seat integer NOT NULL,
            holder text,
            renewed timestamptz,
            expires timestamptz,
            PRIMARY KEY (pool, seat)
        );"],
};

/// A pool of seats, by name.
#[derive(Clone, Debug)]
pub struct Fleet {
    pool: String,
}

/// A seat and who holds it, as [`Fleet::seats`] reads them.
#[derive(Clone, Debug)]
pub struct SeatHolder {
    /// The seat's number, from 1.
    pub seat: i32,
    /// Its holder while its lease holds.
    pub holder: Option<String>,
    /// How long ago (ms, by the database's clock) the holder last renewed.
    pub renewed_ms_ago: Option<i64>,
}

/// A seat this worker holds.
#[derive(Clone, Debug)]
pub struct Seat {
    /// Its number, from 1.
    pub number: i32,
    /// Of how many.
    pub of: u32,
    holder: String,
    lease: Duration,
    /// When the renewal that set its current lease started (this process's
    /// monotonic clock): the lease runs at least `lease` from then.
    renewed: Instant,
    /// Whose lease had lapsed on it when it was taken, if anyone's: a
    /// holder that may only be paused, and that the caller may fence off.
    pub lapsed_holder: Option<String>,
}

impl Fleet {
    /// The pool named `pool` (one per shared budget: a batch, a job store).
    pub fn new(pool: impl Into<String>) -> Fleet {
        Fleet { pool: pool.into() }
    }

    /// Creates the tables (a migration) and the pool with `seats` seats if
    /// it does not exist; its number of seats. A pool that exists keeps
    /// its number: `seats` other than it (when given) is refused.
    ///
    /// # Errors
    /// [`StoreError::Config`] when `seats` differs from the pool's, or the
    /// database's.
    pub async fn prepare(
        &self,
        client: &mut Client,
        database: &Database,
        seats: Option<u32>,
    ) -> Result<u32, StoreError> {
        MIGRATIONS.run(client, database).await?;
        let asked = i32::try_from(seats.unwrap_or(1).max(1)).unwrap_or(i32::MAX);
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::query("begin a fleet"))?;
        tx.execute(
            "INSERT INTO freepik_wan_fleet_pools (pool, seats) VALUES ($1, $2)
             ON CONFLICT (pool) DO NOTHING",
            &[&self.pool, &asked],
        )
        .await
        .map_err(StoreError::query("record a fleet"))?;
        let have: i32 = tx
            .query_one(
                "SELECT seats FROM freepik_wan_fleet_pools WHERE pool = $1",
                &[&self.pool],
            )
            .await
            .map_err(StoreError::query("read a fleet"))?
            .get(0);
        if seats.is_some() && have != asked {
            return Err(StoreError::Config(format!(
                "the fleet {} in {database} has {have} seats, not the {asked} asked for (a \
                 fleet keeps the number it was created with): ask for {have}, or for none, to \
                 join it",
                self.pool
            )));
        }
        tx.execute(
            "INSERT INTO freepik_wan_fleet_seats (pool, seat)
             SELECT $1, n FROM generate_series(1, $2::integer) AS n
             ON CONFLICT DO NOTHING",
            &[&self.pool, &have],
        )
        .await
        .map_err(StoreError::query("record a fleet's seats"))?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit a fleet"))?;
        Ok(u32::try_from(have).unwrap_or(1))
    }

    /// Takes a free seat (or one whose holder's lease lapsed) for `holder`
    /// with a lease of `lease`; `None` when every seat is held.
    pub async fn take(
        &self,
        client: &mut Client,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<Seat>, StoreError> {
        let renewed = Instant::now();
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::query("begin taking a seat"))?;
        let of: i32 = tx
            .query_one(
                "SELECT seats FROM freepik_wan_fleet_pools WHERE pool = $1",
                &[&self.pool],
            )
            .await
            .map_err(StoreError::query("read a fleet"))?
            .get(0);
        let free = tx
            .query_opt(
                "SELECT seat, holder FROM freepik_wan_fleet_seats
                 WHERE pool = $1 AND seat <= $2 AND (holder IS NULL OR expires < now())
                 ORDER BY holder NULLS FIRST, seat LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&self.pool, &of],
            )
            .await
            .map_err(StoreError::query("find a free seat"))?;
        let Some(free) = free else {
            return Ok(None);
        };
        let number: i32 = free.get(0);
        let lapsed_holder: Option<String> = free.get(1);
        tx.execute(
            "UPDATE freepik_wan_fleet_seats
             SET holder = $3, renewed = now(), expires = now() + $4::float8 * interval '1 millisecond'
             WHERE pool = $1 AND seat = $2",
            &[&self.pool, &number, &holder, &millis(lease)],
        )
        .await
        .map_err(StoreError::query("take a seat"))?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit a seat"))?;
        Ok(Some(Seat {
            number,
            of: u32::try_from(of).unwrap_or(1),
            holder: holder.to_owned(),
            lease,
            renewed,
            lapsed_holder,
        }))
    }

    /// Renews `seat`'s lease: `false` when it lapsed (or was taken), and is
    /// not this worker's any more.
    pub async fn renew(&self, client: &Client, seat: &mut Seat) -> Result<bool, StoreError> {
        let started = Instant::now();
        let renewed = client
            .execute(
                "UPDATE freepik_wan_fleet_seats
                 SET renewed = now(), expires = now() + $4::float8 * interval '1 millisecond'
                 WHERE pool = $1 AND seat = $2 AND holder = $3 AND expires >= now()",
                &[&self.pool, &seat.number, &seat.holder, &millis(seat.lease)],
            )
            .await
            .map_err(StoreError::query("renew a seat"))?;
        if renewed == 1 {
            seat.renewed = started;
        }
        Ok(renewed == 1)
    }

    /// Gives `seat` up.
    pub async fn release(&self, client: &Client, seat: &Seat) -> Result<(), StoreError> {
        client
            .execute(
                "UPDATE freepik_wan_fleet_seats SET holder = NULL, expires = NULL
                 WHERE pool = $1 AND seat = $2 AND holder = $3",
                &[&self.pool, &seat.number, &seat.holder],
            )
            .await
            .map_err(StoreError::query("release a seat"))?;
        Ok(())
    }

    /// The pool's seats and their live holders.
    pub async fn seats(&self, client: &Client) -> Result<Vec<SeatHolder>, StoreError> {
        let rows = client
            .query(
                "SELECT s.seat, CASE WHEN s.expires >= now() THEN s.holder END,
                        CASE WHEN s.expires >= now()
                             THEN (extract(epoch FROM now() - s.renewed) * 1000)::bigint END
                 FROM freepik_wan_fleet_seats s
                 JOIN freepik_wan_fleet_pools p ON p.pool = s.pool
                 WHERE s.pool = $1 AND s.seat <= p.seats ORDER BY s.seat",
                &[&self.pool],
            )
            .await
            .map_err(StoreError::query("read a fleet's seats"))?;
        Ok(rows
            .iter()
            .map(|r| SeatHolder {
                seat: r.get(0),
                holder: r.get(1),
                renewed_ms_ago: r.get(2),
            })
            .collect())
    }
}

impl Seat {
    /// Whether the seat's lease is sure to hold for `ahead` more: less than
    /// `lease - ahead` has passed (by this process's monotonic clock) since
    /// the renewal that set it started. A worker sends only while it is.
    pub fn usable(&self, ahead: Duration) -> bool {
        self.renewed.elapsed() + ahead < self.lease
    }

    /// The seat's lease.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
