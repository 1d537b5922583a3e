/// Which engine fast paths the storage writers and readers take; the careful paths (SQLKit statements in ordinary
/// transactions) do the same work, and are what the fast ones are compared with and checked against.
///
/// Configuration of a ``Database`` (``Database/open(_:logger:fastPaths:)``), not of the process: libraries read no
/// environment. The `courtyard` command maps its options onto it.
public struct FastPaths: Sendable, Hashable {
    /// The ledger writer's raw SQLite batches and its pipeline (SQLite only).
    public var ledger: Bool
    /// Bulk writes and reads: raw SQLite statements, PostgreSQL `COPY` and direct row decoding.
    public var bulk: Bool

    public init(ledger: Bool = true, bulk: Bool = true) {
        self.ledger = ledger
        self.bulk = bulk
    }

    /// Every fast path (the default).
    public static let all = FastPaths()
    /// None: every write and read through SQLKit.
    public static let none = FastPaths(ledger: false, bulk: false)
}
