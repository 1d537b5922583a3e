import CourtyardSQLite
/// Rows of one table laid out flat for a bulk write: every text value's UTF-8 in one byte buffer, every cell a small tag.
///
/// A bill run writes millions of rows. As `[[StorageValue]]` each row was an
/// array of its own and each text a `String` (the breakdown JSON a fresh one),
/// then SQLite copied every text again when it was bound, and all of it was
/// freed afterwards: together about a tenth of a run's CPU. Here a record
/// appends its cells once; SQLite binds the text in place (`SQLITE_STATIC`,
/// valid while the buffer is pinned for the write) and PostgreSQL's COPY
/// escapes it straight from the same bytes. Offsets are 32-bit: one buffer holds one write's rows (a chunk is a few MB),
/// never more than 2 GiB of text.
public struct RowBuffer: Sendable {
    /// One value: text as a range of ``bytes``, an integer, or NULL.
    public enum Cell: Sendable, Equatable {
        case text(start: Int32, count: Int32)
        case integer(Int64)
        case null
    }

    /// Columns per row.
    public let width: Int
    /// Every text cell's UTF-8, back to back.
    public private(set) var bytes: [UInt8] = []
    /// The cells, row after row (`width` per row).
    public private(set) var cells: [Cell] = []

    public init(width: Int, reservingRows rows: Int = 0, bytesPerRow: Int = 0) {
        self.width = width
        cells.reserveCapacity(rows * width)
        bytes.reserveCapacity(rows * bytesPerRow)
    }

    /// The number of complete rows.
    public var rowCount: Int { width == 0 ? 0 : cells.count / width }

    public mutating func append(_ text: String) {
        let start = bytes.count
        bytes.append(utf8: text)
        cells.append(.text(start: Int32(start), count: Int32(bytes.count - start)))
    }

    public mutating func append(_ text: String?) {
        if let text { append(text) } else { cells.append(.null) }
    }

    public mutating func append(_ number: Int64) { cells.append(.integer(number)) }

    public mutating func append(_ number: Int64?) { cells.append(number.map(Cell.integer) ?? .null) }

    /// A text cell whose bytes `write` appends directly (formatters that write UTF-8 in place: no `String` in between).
    public mutating func appendText(_ write: (inout [UInt8]) -> Void) {
        let start = bytes.count
        write(&bytes)
        cells.append(.text(start: Int32(start), count: Int32(bytes.count - start)))
    }

    public mutating func append(_ value: StorageValue) {
        switch value {
        case .text(let text): append(text)
        case .integer(let number): append(number)
        case .null: cells.append(.null)
        }
    }

    /// Whether the cell at `row`, `column` is the text `expected`, byte for byte.
    public func cell(row: Int, column: Int, isText expected: String) -> Bool {
        guard case .text(let start, let count) = cells[row * width + column] else { return false }
        var expected = expected
        return expected.withUTF8 { wanted in
            wanted.count == Int(count)
                && bytes.withUnsafeBufferPointer { all in
                    wanted.elementsEqual(all[Int(start)..<Int(start + count)])
                }
        }
    }

    /// The value at `row`, `column` as a ``StorageValue`` (for tests and the slow paths).
    public func value(row: Int, column: Int) -> StorageValue {
        switch cells[row * width + column] {
        case .text(let start, let count): return .text(String(decoding: bytes[Int(start)..<Int(start + count)], as: UTF8.self))
        case .integer(let number): return .integer(number)
        case .null: return .null
        }
    }
}
