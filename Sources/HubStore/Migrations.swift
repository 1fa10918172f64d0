/// The schema, as named migrations applied once each, in order. A migration that has landed is
/// never edited: a change is a new migration appended to the list.
enum Migrations {
    static let all: [(name: String, sql: String)] = [
        (
            "2026-11-28-things-and-shadows",
            """
            CREATE TABLE things (
                name TEXT PRIMARY KEY,
                device_type TEXT,
                config TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL
            );
            CREATE TABLE shadows (
                thing TEXT NOT NULL,
                shadow TEXT NOT NULL,          -- '' for the classic shadow
                version INTEGER NOT NULL,
                deleted INTEGER NOT NULL DEFAULT 0,
                document TEXT NOT NULL,        -- ShadowRecord.snapshot as compact JSON
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (thing, shadow)
            ) WITHOUT ROWID;
            """
        ),
        (
            "2026-11-28-audit",
            """
            CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time INTEGER NOT NULL,
                uid INTEGER,
                user TEXT,
                pid INTEGER,
                action TEXT NOT NULL,          -- e.g. "POST /v1/things"
                target TEXT NOT NULL,          -- e.g. the thing or shadow
                result INTEGER NOT NULL,       -- the HTTP status answered
                detail TEXT                    -- the error message, when refused
            );
            CREATE INDEX audit_time ON audit (time);
            """
        ),
        (
            "2026-11-28-commands",
            """
            CREATE TABLE commands (
                id TEXT PRIMARY KEY,              -- time-sortable: creation ms in hex, then random
                idempotency_key TEXT UNIQUE,
                thing TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                document TEXT NOT NULL            -- Command.json: parameters, requester, deadlines, history
            );
            CREATE INDEX commands_thing ON commands (thing, created_at);
            CREATE INDEX commands_state ON commands (state);
            """
        ),
        (
            "2026-11-28-schedules",
            """
            CREATE TABLE schedules (
                id TEXT PRIMARY KEY,
                thing TEXT NOT NULL,
                updated_at INTEGER NOT NULL,
                document TEXT NOT NULL            -- Schedule.json: trigger, action, zone, hold, handledThrough
            );
            CREATE TABLE schedule_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                schedule_id TEXT NOT NULL,
                time INTEGER NOT NULL,            -- epoch ms when the hub dealt with it
                kind TEXT NOT NULL,               -- fired, caught-up, missed, held, resumed, applied
                document TEXT NOT NULL            -- the firing, what was applied, the outcome
            );
            CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule_id, id);
            """
        ),
        (
            "2026-12-05-identities",
            """
            CREATE TABLE applications (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,                -- read | write | sensitive
                mqtt_password_hash TEXT NOT NULL,  -- mosquitto's $7$ form: PBKDF2-SHA512, salted
                created_at INTEGER NOT NULL,
                rotated_at INTEGER NOT NULL
            );
            ALTER TABLE audit ADD COLUMN identity TEXT;  -- user:alice, application:kitchen, device:porch, …
            ALTER TABLE audit ADD COLUMN path TEXT;      -- api, mqtt, schedule, plugin, command
            """
        ),
        (
            "2026-12-05-access-keys",
            """
            -- SigV4 keys of applications (HTTPS): the verifier needs the secret itself.
            ALTER TABLE applications ADD COLUMN access_key_id TEXT;
            ALTER TABLE applications ADD COLUMN secret_access_key TEXT;
            CREATE UNIQUE INDEX applications_access_key ON applications (access_key_id);
            """
        ),
        (
            "2026-12-05-bridges",
            """
            -- Device types bridge plugins declare at run time (docs/plugins.md), kept so that a
            -- type and its sensitivity hold from the hub's start, before the plugin runs again.
            CREATE TABLE declared_types (
                name TEXT PRIMARY KEY,
                plugin TEXT NOT NULL,
                definition TEXT NOT NULL,   -- as declared, compact JSON
                declared_at INTEGER NOT NULL
            );
            -- A thing its bridge no longer has: registration and shadows kept, marked gone.
            ALTER TABLE things ADD COLUMN gone_at INTEGER;
            """
        ),
        (
            "2026-12-05-cloud-sync",
            """
            -- Per synced shadow, what the hub and AWS IoT Core last agreed on (docs/cloud.md).
            CREATE TABLE cloud_sync (
                thing TEXT NOT NULL,
                shadow TEXT NOT NULL,           -- '' for the classic shadow
                cloud_thing TEXT NOT NULL,
                base TEXT NOT NULL,             -- {"desired": {...}, "reported": {...}} as last synced
                local_version INTEGER NOT NULL, -- the hub's shadow version then
                cloud_version INTEGER NOT NULL, -- AWS's version then (0: no cloud shadow)
                synced_at INTEGER NOT NULL,
                PRIMARY KEY (thing, shadow)
            ) WITHOUT ROWID;
            """
        ),
        (
            "2026-12-05-members",
            """
            -- Household members who sign in to the dashboard (docs/dashboard.md).
            CREATE TABLE members (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,            -- read | write | sensitive
                password_hash TEXT NOT NULL,   -- $scrypt$ln=15,r=8,p=1$SALT$HASH
                created_at INTEGER NOT NULL,
                changed_at INTEGER NOT NULL
            );
            """
        ),
        (
            "2026-12-05-history",
            """
            -- Reported numbers over time, sampled and bounded by [history] (docs/dashboard.md).
            CREATE TABLE history (
                thing TEXT NOT NULL,
                attribute TEXT NOT NULL,       -- SHADOW/ATTRIBUTE ('' shadow: the classic one)
                time INTEGER NOT NULL,         -- epoch seconds
                value REAL NOT NULL
            );
            CREATE INDEX history_by_attribute ON history (thing, attribute, time);
            CREATE INDEX history_by_time ON history (time);
            """
        ),
    ]

    static func apply(to database: SQLiteDatabase, at now: Int64) throws(SQLiteError) {
        try database.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        let applied = try database.prepare("SELECT 1 FROM migrations WHERE name = ?")
        let record = try database.prepare("INSERT INTO migrations (name, applied_at) VALUES (?, ?)")
        for migration in all {
            try applied.bind([.text(migration.name)])
            if try applied.step() { continue }
            try database.execute("BEGIN IMMEDIATE")
            do {
                try database.execute(migration.sql)
                try record.run([.text(migration.name), .integer(now)])
                try database.execute("COMMIT")
            } catch {
                try? database.execute("ROLLBACK")
                throw error
            }
        }
    }
}
