import ArgumentParser
import CourtyardDomain
import CourtyardServer
import CourtyardStorage
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SQLKit

/// `courtyard bench ingest`: readings over HTTP on loopback, driven by wrk with Lua scripts.
///
/// Starts the real server on a free port over a scratch database with `meters` electricity meters, then measures in
/// one run: `/health` (the HTTP ceiling of this machine), batched readings (500 per request), and single-reading
/// requests at 64 connections with p50/p99. Every reading is acknowledged only after its commit (synchronous=FULL on
/// SQLite), and the stored count is checked against what was acknowledged.
struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Readings per second over HTTP (batched and single) and the /health ceiling; needs wrk (apt-get install wrk).")

    @OptionGroup var target: BenchEngineOptions
    @Option(help: "Electricity meters registered.") var meters: Int = 20_000
    @Option(help: "Readings per batched request.") var batch: Int = 500
    @Option(help: "Connections for batched requests.") var batchConnections: Int = 8
    @Option(help: "Connections for single-reading requests.") var singleConnections: Int = 64
    @Option(help: "Seconds per phase.") var seconds: Int = 15
    @Option(help: "wrk threads.") var threads: Int = 2

    func run() async throws {
        target.bootstrapLogging()
        guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CommandFailure(description: "wrk is needed: apt-get install wrk")
        }
        let logger = Logger(label: "courtyard.bench")
        let scratch = try await ScratchDatabase.make(
            engine: target.engine, postgresURL: target.postgresURL, logger: logger, fastPaths: target.carefulPaths)
        let database = scratch.database
        do {
            try await Migrator().migrate(database)
            let token = try await seed(database)
            let services = ServerServices(database: database)
            let (router, _) = CourtyardApp.router(services: services)
            let port = try Self.freePort()
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "Courtyard"),
                logger: logger)
            let server = Task { try await app.runService() }
            try await Self.waitForPort(port)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("courtyard-ingest-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let base = Int(Date().timeIntervalSince1970) - 60 * 86_400

            let health = try runWrk(wrk, url: "http://127.0.0.1:\(port)/health", connections: singleConnections, script: nil, folder: folder)
            let batchScript = Self.script(
                token: token, batch: batch, meters: meters, threads: threads, register: "energy_total", base: base,
                offset: 0)
            let batched = try runWrk(
                wrk, url: "http://127.0.0.1:\(port)/api/v1/readings", connections: batchConnections, script: batchScript,
                folder: folder)
            // Single readings come later in time than the batched ones, for the same registers: meters that report again.
            let singleScript = Self.script(
                token: token, batch: 1, meters: meters, threads: threads, register: "energy_total",
                base: base + 30 * 86_400, offset: 1_000)
            let single = try runWrk(
                wrk, url: "http://127.0.0.1:\(port)/api/v1/readings", connections: singleConnections, script: singleScript,
                folder: folder)
            server.cancel()
            _ = await server.result

            let cut = Int64(base + 30 * 86_400) * 1000
            let stored = try await database.read { db in
                try await db.raw(
                    "SELECT CASE WHEN measured_at >= \(bind: cut) THEN 1 ELSE 0 END AS single, COUNT(*) AS n FROM readings_all GROUP BY 1"
                ).all()
                    .map {
                        (try $0.decode(column: "single", as: Int.self) == 1 ? "tou_peak" : "energy_total", try $0.decode(column: "n", as: Int.self))
                    }
            }
            let counts = Dictionary(uniqueKeysWithValues: stored)
            let held = try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM held_readings").first()!.decode(column: "n", as: Int.self)
            }
            let readingsPerSecond = batched.requestsPerSecond * Double(batch)
            // The storage floor of the same run: the batched phase's readings again, reading-shaped rows of as many meters,
            // `batch` per durable commit, with prepared statements and no logic. Noise of the hour divides out of the ratio.
            let floorRows = max(batch, counts["energy_total"] ?? 0)
            let floorSeconds = try await ReadingFloor.insert(database, rows: floorRows, devices: meters, perTransaction: batch)
            let floorPerSecond = Double(floorRows) / floorSeconds
            print("engine \(target.engine): \(meters) meters, wrk \(threads) threads, \(seconds) s per phase")
            print("| phase | connections | requests/s | readings/s | p50 ms | p99 ms | non-2xx |")
            print("|---|---|---|---|---|---|---|")
            print("| /health | \(singleConnections) | \(Int(health.requestsPerSecond)) | — | \(health.p50) | \(health.p99) | \(health.errors) |")
            print(
                "| batched (\(batch)/request) | \(batchConnections) | \(Int(batched.requestsPerSecond)) | \(Int(readingsPerSecond)) | \(batched.p50) | \(batched.p99) | \(batched.errors) |"
            )
            print(
                "| single reading | \(singleConnections) | \(Int(single.requestsPerSecond)) | \(Int(single.requestsPerSecond)) | \(single.p50) | \(single.p99) | \(single.errors) |"
            )
            print("stored: \(counts["energy_total"] ?? 0) batched, \(counts["tou_peak"] ?? 0) single; held for review: \(held)")
            print(
                "storage floor: the same \(floorRows) readings inserted raw, \(batch) per commit, in \(BenchSupport.format(floorSeconds)) s "
                    + "= \(Int(floorPerSecond)) readings/s; batched ingestion is \(BenchSupport.format(readingsPerSecond / floorPerSecond)) of the floor"
            )
            let json: [String: Any] = [
                "benchmark": "ingest", "engine": target.engine, "meters": meters, "batch": batch, "seconds_per_phase": seconds,
                "health_requests_per_second": Int(health.requestsPerSecond), "health_p99_ms": health.p99,
                "readings_per_second": Int(readingsPerSecond), "batched_requests_per_second": Int(batched.requestsPerSecond),
                "batched_p50_ms": batched.p50, "batched_p99_ms": batched.p99,
                "single_requests_per_second": Int(single.requestsPerSecond), "single_p50_ms": single.p50, "single_p99_ms": single.p99,
                "stored_batched": counts["energy_total"] ?? 0, "stored_single": counts["tou_peak"] ?? 0, "held": held,
                "non_2xx": batched.errors + single.errors, "floor_readings_per_second": Int(floorPerSecond),
                "floor_seconds": (floorSeconds * 1000).rounded() / 1000, "ratio_to_floor": (readingsPerSecond / floorPerSecond * 100).rounded() / 100,
                "peak_rss_bytes": BenchSupport.peakRSS(), "git_commit": BenchSupport.gitCommit(),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
        } catch {
            await scratch.cleanUp()
            throw error
        }
        await scratch.cleanUp()
    }

    struct WrkResult {
        var requestsPerSecond: Double
        var p50: Double
        var p99: Double
        var errors: Int
    }

    func runWrk(_ wrk: String, url: String, connections: Int, script: String?, folder: URL) throws -> WrkResult {
        var arguments = ["-t\(threads)", "-c\(max(connections, threads))", "-d\(seconds)s", "--latency", "--timeout", "10s"]
        if let script {
            let file = folder.appendingPathComponent("script-\(UUID().uuidString).lua")
            try script.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["-s", file.path]
        }
        arguments.append(url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Self.parse(output)
    }

    /// Reads wrk's summary: Requests/sec, the 50% and 99% latency lines, and non-2xx responses.
    static func parse(_ output: String) -> WrkResult {
        var result = WrkResult(requestsPerSecond: 0, p50: 0, p99: 0, errors: 0)
        func milliseconds(_ text: Substring) -> Double {
            if text.hasSuffix("us") { return (Double(text.dropLast(2)) ?? 0) / 1000 }
            if text.hasSuffix("ms") { return Double(text.dropLast(2)) ?? 0 }
            if text.hasSuffix("s") { return (Double(text.dropLast()) ?? 0) * 1000 }
            return 0
        }
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), let value = fields.last { result.requestsPerSecond = Double(value) ?? 0 }
            if fields.first == "50%", fields.count == 2 { result.p50 = (milliseconds(fields[1]) * 100).rounded() / 100 }
            if fields.first == "99%", fields.count == 2 { result.p99 = (milliseconds(fields[1]) * 100).rounded() / 100 }
            if line.contains("Non-2xx or 3xx responses:"), let value = fields.last { result.errors += Int(value) ?? 0 }
            if line.contains("Socket errors:") {
                result.errors += fields.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            }
        }
        return result
    }

    /// A wrk script: each thread reports for its own share of the meters, each meter's readings rising with time.
    /// `offset` (kWh) is added to every reading, so a later phase continues above an earlier one.
    static func script(token: String, batch: Int, meters: Int, threads: Int, register: String, base: Int, offset: Int) -> String {
        """
        local counter = 0
        local nextId = 0
        function setup(thread)
          thread:set("tid", nextId)
          nextId = nextId + 1
        end
        function init(args)
          share = math.floor(\(meters) / \(threads))
        end
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        wrk.headers["Authorization"] = "Bearer \(token)"
        request = function()
          local parts = {}
          for i = 1, \(batch) do
            local n = counter * \(batch) + (i - 1)
            local meter = tid + \(threads) * (n % share)
            local round = math.floor(n / share)
            parts[i] = string.format('{"device_id":"m%d","register":"\(register)","reading":"%d.5","measured_at":"%s"}',
              meter, round + \(offset), os.date("!%Y-%m-%dT%H:%M:%SZ", \(base) + round * 60))
          end
          counter = counter + 1
          return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
        end
        """
    }

    /// A company, a community, `meters` electricity meters `m0…`, and a finance session; returns its bearer token.
    func seed(_ database: Database) async throws -> String {
        let now = Date()
        let companyId = Identifier.uuidV7(at: now)
        let community = Identifier.uuidV7(at: now)
        let userId = Identifier.uuidV7(at: now)
        let token = SessionTokens.generate()
        let ms = now.epochMilliseconds
        try await database.transaction { db in
            try await AccountStore(db).insert(
                Company(
                    id: companyId, code: "bench-\(companyId.suffix(6))", name: "Bench", currency: .cny,
                    createdAt: now, updatedAt: now))
            let store = ScopedStore(db, scope: TenantScope(companyId: companyId))
            try await store.insert(
                Community(
                    id: community, companyId: companyId, code: "B", name: "Bench", timeZone: "Asia/Shanghai",
                    currency: .cny, address: nil, createdAt: now, updatedAt: now))
            var sequence = IdentifierSequence(at: now)
            for part in Array(0..<meters).chunked(500) {
                let insert = db.insert(into: "devices").columns(Device.columns)
                for index in part {
                    insert.values(
                        SQLBind(sequence.next()), SQLBind(companyId), SQLBind(community), SQLBind("m\(index)"),
                        SQLBind("electricity_meter"), SQLBind("http"), SQLLiteral.null, SQLLiteral.null, SQLBind("active"),
                        SQLLiteral.null, SQLLiteral.null, SQLBind(ms), SQLBind(ms))
                }
                try await insert.run()
            }
            try await AccountStore(db).insert(
                User(
                    id: userId, companyId: companyId, login: "bench-\(companyId.suffix(6))", displayName: "Bench",
                    role: .engineer, personId: nil, communityIds: nil, status: .active, createdAt: now,
                    updatedAt: now), passwordHash: "-")
            try await AccountStore(db).insertSession(
                tokenHash: SessionTokens.hash(token), userId: userId, createdAt: now,
                expiresAt: now.addingTimeInterval(86_400))
        }
        return token
    }

    static func freePort() throws -> Int {
        let socket = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = socket.localAddress?.port ?? 0
        try socket.close().wait()
        return port
    }

    static func waitForPort(_ port: Int) async throws {
        for _ in 0..<200 {
            if (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get().close().get())
                != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CommandFailure(description: "the server did not start on port \(port)")
    }
}
