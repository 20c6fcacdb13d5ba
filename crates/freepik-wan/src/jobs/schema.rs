use crate::postgres::Migrations;

/// The job store's schema (component `jobs` in `freepik_wan_schema`).
///
/// - `freepik_wan_jobs`: one row per intended video. `state` is where it is
///   (see [`JobState`](super::JobState)); `fence` grows by one at every
///   claim, and every write of a claimed job names the fence it claimed
///   with, so a worker whose lease was taken over writes nothing;
///   `baseline` holds the task ids the model's list showed just before the
///   create was sent (the proof rule's "already there").
/// - `freepik_wan_job_media`: the bytes of a job's local media, kept until
///   its create is settled.
/// - `freepik_wan_webhooks`: the `webhook-id`s handled, so that a delivery
///   repeated to any replica is seen once.
pub const JOBS_SCHEMA: Migrations = Migrations {
    component: "jobs",
    steps: &["CREATE TABLE freepik_wan_jobs (
            id bigserial PRIMARY KEY,
            model text NOT NULL,
            request jsonb NOT NULL,
            data jsonb NOT NULL DEFAULT 'null',
            state text NOT NULL DEFAULT 'queued' CHECK (state IN
                ('queued', 'sending', 'uncertain', 'created', 'finishing', 'done', 'failed')),
            task_id text UNIQUE,
            fence bigint NOT NULL DEFAULT 0,
            owner text,
            lease_until timestamptz,
            baseline jsonb,
            attempts integer NOT NULL DEFAULT 0,
            error text,
            next_check timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX freepik_wan_jobs_due ON freepik_wan_jobs (state, next_check);
        CREATE TABLE freepik_wan_job_media (
            job_id bigint NOT NULL REFERENCES freepik_wan_jobs (id) ON DELETE CASCADE,
            position integer NOT NULL,
            bytes bytea NOT NULL,
            PRIMARY KEY (job_id, position)
        );
        CREATE TABLE freepik_wan_webhooks (
            webhook_id text PRIMARY KEY,
            task_id text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now()
        );"],
};
