import Foundation
import Testing

/// Tenancy by construction, checked on the source: SQL outside the storage layer never names `company_id`; it goes
/// through ``TenantSQL`` (or ``ScopedStore``), which adds the predicate itself.
///
/// Files written before the seam existed are listed in `pending` with the number of lines that still name the column.
/// The list only shrinks: a file not listed, or a listed file with more such lines, fails; a listed file with fewer
/// fails too, until its entry is lowered (or removed), so converted code cannot slide back.
@Suite("Tenancy scan")
struct TenancyScanTests {
    /// Empty since the fast paths build their statements through `TenantQuery` too.
    static let pending: [String: Int] = [:]

    /// Benchmark floors in the CLI: they create scratch tables shaped like the real ones (a `company_id` column among
    /// the others) and insert bound rows into them; they never read or write a tenant's rows. Exempt as a whole file.
    static let scratchSchemas: Set<String> = [
        "Sources/courtyard/InsertFloor.swift",
        "Sources/courtyard/ReadingFloor.swift",
    ]

    /// The repository's root, from this file's path.
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Lines naming `company_id` per Swift file under `root/Sources/`, outside the storage layer.
    static func mentions(in root: URL = root) throws -> [String: Int] {
        let sources = root.appendingPathComponent("Sources")
        guard let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else { return [:] }
        var found: [String: Int] = [:]
        for case let url as URL in walker where url.pathExtension == "swift" {
            let path = String(url.path.dropFirst(root.path.count + 1))
            guard !path.hasPrefix("Sources/CourtyardStorage/"), !scratchSchemas.contains(path) else { continue }
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let count = lines.filter { $0.contains("company_id") }.count
            if count > 0 { found[path] = count }
        }
        return found
    }

    @Test("SQL outside the storage layer does not name company_id (converted files stay converted)")
    func noTenantPredicateOutsideStorage() throws {
        let found = try Self.mentions()
        // The scan must have something to read: the modules above Storage are where predicates would be typed.
        let modules = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("Sources").path)
        #expect(modules.contains("CourtyardPrepaid") && modules.contains("CourtyardIngest"), "the scan found no sources at \(Self.root.path)")
        for (path, count) in found.sorted(by: { $0.key < $1.key }) {
            let allowed = Self.pending[path] ?? 0
            #expect(count <= allowed, "\(path) names company_id on \(count) lines; write its SQL through TenantSQL")
        }
        for (path, allowed) in Self.pending.sorted(by: { $0.key < $1.key }) {
            let count = found[path] ?? 0
            #expect(count >= allowed, "\(path) now names company_id on \(count) lines: lower its entry in TenancyScanTests.pending to \(count)")
        }
    }

    @Test("the scan finds a predicate planted in a module and ignores the storage layer's own")
    func scanFindsPlantedPredicate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-scan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for (folder, text) in [
            ("Sources/CourtyardPrepaid", "db.raw(\"SELECT 1 FROM x WHERE company_id = ?\")\n// fine\n"),
            ("Sources/CourtyardStorage", "\"company_id = ?\"\n"),
        ] {
            let directory = root.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try text.write(to: directory.appendingPathComponent("Probe.swift"), atomically: true, encoding: .utf8)
        }
        #expect(try Self.mentions(in: root) == ["Sources/CourtyardPrepaid/Probe.swift": 1])
    }
}
