import Foundation

/// Which engine fast paths the storage writers and readers take; the careful paths (SQLKit statements in ordinary
/// transactions) do the same work, and are what the fast ones are compared with and checked against.
///
/// Configuration of a ``Database`` (``Database/open(_:logger:fastPaths:)``), not of the process: libraries read no
/// environment. The `courtyard` command sets it with `--careful-paths`; the test suite runs once with every fast path
/// and once with none.
public struct FastPaths: Sendable, Hashable {
    /// The ledger writer's raw SQLite batches and its pipeline (SQLite only).
    public var ledger: Bool
    /// Bulk writes and reads: raw SQLite statements, PostgreSQL `COPY` and direct row decoding.
    public var bulk: Bool
    /// The ingestion writer's raw SQLite batches, and the effects that commit with them (prepaid deduction) (SQLite only).
    public var readings: Bool

    public init(ledger: Bool = true, bulk: Bool = true, readings: Bool = true) {
        self.ledger = ledger
        self.bulk = bulk
        self.readings = readings
    }

    /// Every fast path (the default).
    public static let all = FastPaths()
    /// None of them: every write and read through SQLKit. (Not `none`, which would read as `Optional.none` where a
    /// `FastPaths?` is expected.)
    public static let careful = FastPaths(ledger: false, bulk: false, readings: false)

    /// The fast paths named by the names of the careful ones: `all` (none fast), `none` (all fast, the default), or a
    /// comma-separated list of `ledger`, `bulk`, `readings`. Nil for any other name.
    public init?(carefulPaths text: String) {
        self = .all
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            switch name {
            case "all": self = .careful
            case "none": break
            case "ledger": ledger = false
            case "bulk": bulk = false
            case "readings": readings = false
            default: return nil
            }
        }
    }
}
