// swift-format-ignore-file
// (Migrations are checksummed: their statements stay byte for byte as first released.)
extension Schema {
    /// Where the SQLite ingestion writer puts new readings before they join `meter_readings`, and the one view that
    /// reads both.
    ///
    /// `meter_readings` is ordered by device (its unique key is `(device_id, register, measured_at)`), so a new
    /// reading lands on its device's own index page: a commit of 2,000 readings from 2,000 meters rewrote 2,000 pages
    /// of 16 KiB in the write-ahead log, and the cost per reading grew with the table. The writer therefore appends
    /// its routine readings (cumulative registers, newer than the register's last reading, without a message id, on
    /// meters without prepaid effects) to `recent_readings_0` or `_1`, which have no index, and moves them into
    /// `meter_readings` later, many at a time and sorted by device, so that each device page is written once per move
    /// instead of once per commit.
    ///
    /// One of the two tables takes new rows (`recent_state.active`); the other is empty or being moved. A move copies
    /// the rows of a range of devices per transaction and raises `recent_state.bound` in the same transaction: the
    /// moving table's rows of devices below the bound are already in `meter_readings` and are no longer shown. So
    /// `readings_all`, which readers use, shows every accepted reading exactly once at every commit. Code that changes
    /// readings (the careful path, review decisions, usage derivation) first moves everything
    /// (`RecentReadings.settleAll`) and then works on `meter_readings` alone. PostgreSQL never writes these tables.
    static let recentReadings = Migration(version: 8, name: "recent_readings", statements: [
        recentTable(0),
        recentTable(1),
        "CREATE TABLE recent_state (id INTEGER PRIMARY KEY, active INTEGER NOT NULL CHECK (active IN (0, 1)), bound TEXT)",
        "INSERT INTO recent_state (id, active, bound) VALUES (1, 0, NULL)",
        """
        CREATE VIEW readings_all AS
        SELECT \(readingColumns) FROM meter_readings
        UNION ALL
        SELECT \(readingColumns("r.")) FROM recent_readings_0 r, recent_state s WHERE s.id = 1 AND (s.active = 0 OR r.device_id >= s.bound)
        UNION ALL
        SELECT \(readingColumns("r.")) FROM recent_readings_1 r, recent_state s WHERE s.id = 1 AND (s.active = 1 OR r.device_id >= s.bound)
        """,
    ])

    /// The view that shows every accepted reading once (`meter_readings` and the recent rows not yet moved): what
    /// readers of readings query.
    public static let readingsView = "readings_all"

    /// The columns of `meter_readings`, in table order.
    public static let readingColumns = readingColumns("")

    /// The same columns, each after `prefix` (a table alias and a dot).
    public static func readingColumns(_ prefix: String) -> String {
        ["id", "company_id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "usage_milli",
         "since", "message_id", "source", "origin", "entered_by", "note", "photo_ref"].map { prefix + $0 }.joined(separator: ", ")
    }

    private static func recentTable(_ number: Int) -> String {
        """
        CREATE TABLE recent_readings_\(number) (
            id TEXT NOT NULL,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            register TEXT NOT NULL,
            measured_at BIGINT NOT NULL,
            received_at BIGINT NOT NULL,
            reading_milli BIGINT,
            usage_milli BIGINT,
            since BIGINT,
            message_id TEXT,
            source TEXT NOT NULL,
            origin TEXT NOT NULL,
            entered_by TEXT,
            note TEXT,
            photo_ref TEXT
        )
        """
    }
}
