import ArgumentParser
import CourtyardDevices
import CourtyardDomain
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Crypto
import Foundation
import Logging
import SQLKit
import Synchronization
import _CryptoExtras

/// `courtyard bench payments`: WeChat Pay top-up notifications verified (SHA256withRSA), decrypted (AES-256-GCM) and
/// applied (payment row, ledger transfer, prepaid restore command, receipt, order state) in process, one at a time and
/// then concurrently, against prepaid houses whose supply is cut off, so every callback also queues a restore.
struct PaymentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payments", abstract: "WeChat Pay callback verify+apply latency (p50/p99/max), replays, and concurrent callbacks/s.")

    @OptionGroup var target: BenchEngineOptions
    @Option(help: "Callbacks measured one at a time (each a distinct order and house).") var callbacks: Int = 2_000
    @Option(help: "Concurrent callbacks in flight in the throughput phase.") var concurrency: Int = 8

    func run() async throws {
        var logger = Logger(label: "courtyard.bench")
        logger.logLevel = .warning
        let scratch = try await ScratchDatabase.make(
            engine: target.engine, postgresURL: target.postgresURL, logger: logger, fastPaths: target.carefulPaths)
        do {
            try await Migrator().migrate(scratch.database)
            try await measure(scratch.database)
        } catch {
            await scratch.drop()
            throw error
        }
        await scratch.drop()
    }

    func measure(_ database: Database) async throws {
        let houses = callbacks * 2
        print("seeding \(houses) prepaid houses (supply cut off) and \(houses) WeChat Pay top-up orders…")
        var prepaid = try PrepaidBench.parse(["--meters", String(houses), "--cycling", "0"])
        prepaid.target = target
        let (companyId, devices, houseIds) = try await prepaid.seed(database)
        try await database.transaction { db in
            for part in devices.chunked(500) {
                try await db.update("supply_states").set("desired", to: SQLBind("closed")).set("reason", to: SQLBind("balance_exhausted"))
                    .where("device_id", .in, SQLBind.group(part)).run()
            }
        }
        let platform = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let apiKey = SymmetricKey(data: Data("b3f1c0d9e8b7a6f5e4d3c2b1a0f9e8d7".utf8))
        let serial = "PUB_KEY_ID_BENCH"
        let channels = ChannelConfiguration(companies: [
            companyId: .init(
                wechatPay: WeChatPayV3.Credentials(
                    merchantId: "1900000109", appId: "wx8888888888888888", merchantSerial: "BENCH",
                    merchantKey: try _RSA.Signing.PrivateKey(keySize: .bits2048),
                    apiV3Key: apiKey, platformKeys: [serial: platform.publicKey], notifyURL: "http://127.0.0.1/notify"))
        ])
        let service = PaymentService(database: database, channels: channels, ports: .courtyard)
        // Restores go out through the real dispatcher to an in-process transport that records when each was SENT.
        let sent = Mutex<[String: ContinuousClock.Instant]>([:])
        let dispatcher = CommandDispatcher(database: database, effects: PrepaidDeviceEffects())
        await dispatcher.use(
            CallbackTransport { command, _, _ in
                let at = ContinuousClock.now
                sent.withLock { $0[command.id] = at }
            })
        let now = Date()
        let community = try await database.read { db in
            try await db.raw("SELECT community_id FROM houses WHERE id = \(bind: houseIds[0])").first()!.decode(
                column: "community_id", as: String.self)
        }
        var notes: [(WeChatPayV3.NotificationHeaders, [UInt8])] = []
        let engine = database.engine
        for part in Array(0..<houses).chunked(500) {
            try await database.transaction { db in
                let store = PaymentStore(db, companyId: companyId, engine: engine)
                for index in part {
                    try await store.insert(
                        PaymentOrder(
                            id: Identifier.uuidV7(at: now), companyId: companyId, communityId: community, houseId: houseIds[index],
                            outTradeNo: "CYBENCH\(index)", purpose: .topUp, items: .init(walletPurpose: "electricity"), amount: 100_00,
                            currency: "CNY",
                            channel: "wechatpay", payerPersonId: nil, payerRelation: .staff, state: .created, channelRequest: nil,
                            expiresAt: now.addingTimeInterval(3_600), paidAt: nil, paymentId: nil, requestDigest: "bench", createdBy: "bench",
                            createdAt: now, updatedAt: now))
                }
            }
        }
        for index in 0..<houses {
            notes.append(
                try Self.notification(
                    outTradeNo: "CYBENCH\(index)", transactionId: "42000000012026\(100_000_000 + index)", total: 100_00,
                    key: platform, apiKey: apiKey, serial: serial))
        }

        func timed(_ note: (WeChatPayV3.NotificationHeaders, [UInt8])) async throws -> (Double, PaymentService.NotificationResult) {
            let start = ContinuousClock.now
            let result = try await service.wechatPayNotification(headers: note.0, body: note.1)
            let elapsed = ContinuousClock.now - start
            return (Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15, result)
        }
        // Verification alone (signature and decryption), for the share of the cost.
        var verify: [Double] = []
        for note in notes.prefix(200) {
            let start = ContinuousClock.now
            try WeChatPayV3.verify(note.0, body: note.1, now: Date(), keys: [serial: platform.publicKey])
            let envelope = try JSONDecoder().decode(WeChatPayV3.Notification.self, from: Data(note.1))
            _ = try WeChatPayV3.decrypt(envelope.resource, apiV3Key: apiKey)
            let elapsed = ContinuousClock.now - start
            verify.append(Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        // Phase 1: one at a time.
        var sequential: [Double] = []
        var restores = 0
        var callbackStarts: [String: ContinuousClock.Instant] = [:]
        for note in notes.prefix(callbacks) {
            let start = ContinuousClock.now
            let (ms, result) = try await timed(note)
            guard result.outcome?.status == .applied else {
                throw CommandFailure(description: "a callback was not applied: \(String(describing: result.outcome))")
            }
            if let commands = result.outcome?.commands, !commands.isEmpty {
                restores += 1
                for command in commands { callbackStarts[command] = start }
                await dispatcher.wake()
            }
            sequential.append(ms)
        }
        await dispatcher.settle()
        let restoreLatencies = sent.withLock { sent in
            callbackStarts.compactMap { id, start -> Double? in
                guard let at = sent[id] else { return nil }
                let elapsed = at - start
                return Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
            }
        }
        // Phase 2: replays of the same callbacks (the duplicate path).
        var replays: [Double] = []
        for note in notes.prefix(min(callbacks, 1_000)) {
            let (ms, result) = try await timed(note)
            guard result.outcome?.status == .duplicate else { throw CommandFailure(description: "a replay was not a duplicate") }
            replays.append(ms)
        }
        // Phase 3: the other half concurrently.
        let rest = Array(notes.suffix(houses - callbacks))
        let wall = ContinuousClock.now
        let concurrent = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var times: [Double] = []
                    for index in stride(from: worker, to: rest.count, by: concurrency) { times.append(try await timed(rest[index]).0) }
                    return times
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        let wallElapsed = ContinuousClock.now - wall
        let wallSeconds = Double(wallElapsed.components.seconds) + Double(wallElapsed.components.attoseconds) / 1e18
        let balanced = try await database.read { db -> Bool in
            let row = try await db.raw(
                "SELECT CAST(SUM(debits_posted) AS BIGINT) AS d, CAST(SUM(credits_posted) AS BIGINT) AS c FROM ledger_balances"
            ).first()!
            return try row.decode(column: "d", as: Int64.self) == row.decode(column: "c", as: Int64.self)
        }
        func quantile(_ values: [Double], _ q: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
        print("")
        print("phase                      count     p50 ms    p99 ms    max ms")
        for (name, values) in [
            ("verify + decrypt only", verify), ("callback, one at a time", sequential), ("replay (duplicate)", replays),
            ("callback → restore SENT", restoreLatencies), ("callback, \(concurrency) concurrent", concurrent),
        ] {
            print(
                name.padding(toLength: 26, withPad: " ", startingAt: 0) + String(values.count).leftPad(6)
                    + BenchSupport.format(quantile(values, 0.5)).leftPad(11)
                    + BenchSupport.format(quantile(values, 0.99)).leftPad(10) + BenchSupport.format(values.max() ?? 0).leftPad(10))
        }
        let floor = try await Self.statementFloor(database)
        // The floor of the same run: a durable one-row commit on the same database; no callback can be applied sooner.
        let commits = try await ReadingFloor.commitLatencies(database, count: 500).sorted()
        let commitP99 = commits[min(commits.count - 1, Int(Double(commits.count) * 0.99))]
        let throughput = Double(rest.count) / wallSeconds
        print("one trivial statement through SQLKit in a write transaction (floor): \(BenchSupport.format(floor * 1_000)) µs")
        print(
            "a durable one-row commit (floor): p50 \(BenchSupport.format(quantile(commits, 0.5))) ms, p99 \(BenchSupport.format(commitP99)) ms; "
                + "callback p99 / commit p99 = \(BenchSupport.format(quantile(sequential, 0.99) / max(commitP99, 0.001)))")
        print(
            "concurrent callbacks/s: \(BenchSupport.format(throughput)); restores queued in the callback's transaction: \(restores) of \(sequential.count); ledger balanced: \(balanced)"
        )
        let json: [String: Any] = [
            "bench": "payments", "engine": target.engine, "callbacks": sequential.count, "p50_ms": quantile(sequential, 0.5),
            "p99_ms": quantile(sequential, 0.99),
            "max_ms": sequential.max() ?? 0, "verify_p99_ms": quantile(verify, 0.99), "replay_p99_ms": quantile(replays, 0.99),
            "concurrent_p99_ms": quantile(concurrent, 0.99), "concurrent_callbacks_per_second": throughput, "restores_queued": restores,
            "restores_sent": restoreLatencies.count, "restore_sent_p99_ms": quantile(restoreLatencies, 0.99),
            "ledger_balanced": balanced, "statement_floor_ms": floor, "floor_commit_p50_ms": quantile(commits, 0.5), "floor_commit_p99_ms": commitP99,
            "p99_ratio_to_floor": quantile(sequential, 0.99) / max(commitP99, 0.001), "commit": BenchSupport.gitCommit(),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    static func notification(
        outTradeNo: String, transactionId: String, total: Int64, key: _RSA.Signing.PrivateKey, apiKey: SymmetricKey,
        serial: String
    ) throws -> (WeChatPayV3.NotificationHeaders, [UInt8]) {
        let transaction: [String: Any] = [
            "mchid": "1900000109", "appid": "wx8888888888888888", "out_trade_no": outTradeNo, "transaction_id": transactionId,
            "trade_type": "NATIVE", "trade_state": "SUCCESS", "success_time": "2026-11-22T10:00:00+08:00",
            "payer": ["openid": "oBench"], "amount": ["total": total, "payer_total": total, "currency": "CNY"],
        ]
        let nonce = String(UUID().uuidString.prefix(12))
        let ciphertext = try WeChatPayV3.encrypt(
            try JSONSerialization.data(withJSONObject: transaction), nonce: nonce, associatedData: "transaction",
            apiV3Key: apiKey)
        let envelope: [String: Any] = [
            "id": UUID().uuidString, "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
            "resource": ["algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext, "associated_data": "transaction", "nonce": nonce],
        ]
        let body = Array(try JSONSerialization.data(withJSONObject: envelope))
        let timestamp = String(Int64(Date().timeIntervalSince1970))
        let signatureNonce = UUID().uuidString
        var message = Array("\(timestamp)\n\(signatureNonce)\n".utf8)
        message += body
        message.append(0x0A)
        return (
            .init(
                timestamp: timestamp, nonce: signatureNonce, signature: try RSAKeys.sign(message, with: key), serial: serial,
                signatureType: "WECHATPAY2-SHA256-RSA2048"), body
        )
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

extension PaymentBench {
    /// How long one trivial statement takes through SQLKit in a write transaction (the floor under every query of the apply path).
    static func statementFloor(_ database: Database) async throws -> Double {
        let start = ContinuousClock.now
        try await database.transaction { db in
            for _ in 0..<2_000 { _ = try await db.raw("SELECT 1 AS one").first() }
        }
        let elapsed = ContinuousClock.now - start
        return (Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15) / 2_000
    }
}
