import CourtyardDomain
import CourtyardServer
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Every documented route, swept (issue 25, point 4): each role of company A gets exactly what the role matrix in
/// docs/AUTH.md says, and A's administrator given company B's ids gets what a made-up id gets (404) and never a byte
/// of B. The routes come from the OpenAPI document, so a new route is swept the day it is added, and the sweep fails
/// until its access and its path parameters are classified here.
@Suite("Route sweep: every route, every role, another company's ids")
struct RouteSweepTests {
    /// How a route the document gives no permission is reached.
    enum Entry: Equatable, Sendable {
        /// No credentials: signing in, channel callbacks (signed by the channel), receipt pages (the token is the credential),
        /// the service's own descriptions.
        case anyone
        /// Any signed-in person, for their own account.
        case signedIn
        /// A device's own token (tested with device credentials in the ingestion suites).
        case device
        /// An integration's HMAC signature (tested in the ingestion suites).
        case integration
        /// An owner for a house they occupy, or staff holding the permission.
        case ownerOrStaff(Permission)
    }

    /// Every route without `x-courtyard-permission`, classified. A new one fails `everyRouteIsClassified` until it is here.
    static let withoutPermission: [String: Entry] = [
        "POST /api/v1/auth/login": .anyone,
        "POST /api/v1/auth/logout": .signedIn,
        "POST /api/v1/me/password": .signedIn,
        "GET /api/v1/me": .signedIn,
        "POST /api/v1/ingest/{integration}": .integration,
        "GET /api/v1/houses/{id}/prepaid": .ownerOrStaff(.readFinance),
        "GET /api/v1/devices/{id}/commands/next": .device,
        "POST /api/v1/devices/{id}/commands/ack": .device,
        "POST /api/v1/devices/{id}/supply-report": .device,
        "POST /api/v1/payment-orders": .ownerOrStaff(.takePayments),
        "GET /api/v1/payment-orders/{out_trade_no}": .ownerOrStaff(.readFinance),
        "POST /api/v1/payment-orders/{out_trade_no}/close": .ownerOrStaff(.takePayments),
        "POST /api/v1/payments/notify/wechatpay": .anyone,
        "POST /api/v1/payments/notify/alipay": .anyone,
        "GET /api/v1/payments": .ownerOrStaff(.readFinance),
        "GET /api/v1/payments/{id}": .ownerOrStaff(.readFinance),
        "GET /api/v1/payments/{id}/receipt": .ownerOrStaff(.readFinance),
        "GET /r/{token}": .anyone,
        "POST /api/v1/refunds": .ownerOrStaff(.takePayments),
        "GET /api/v1": .anyone,
        "GET /health": .anyone,
        "GET /metrics": .anyone,
        "GET /openapi.json": .anyone,
    ]

    /// Routes whose permission is staff's that owners also reach for the houses they occupy (docs/AUTH.md, "Owners").
    static let alsoForOwners: Set<String> = [
        "GET /api/v1/bills", "GET /api/v1/bills/{id}", "GET /api/v1/houses/{id}/usage", "GET /api/v1/houses/{id}/usage/summary",
        "GET /api/v1/communities/{id}", "GET /api/v1/buildings/{id}",
    ]

    /// Where the sweep finds company B's value for each path parameter (named by the segment before it): a table and column.
    static let parameterSources: [String: (table: String, column: String)] = [
        "users/{id}": ("users", "id"), "devices/{id}": ("devices", "id"), "communities/{id}": ("communities", "id"),
        "buildings/{id}": ("buildings", "id"), "units/{id}": ("units", "id"), "houses/{id}": ("houses", "id"),
        "people/{id}": ("people", "id"), "occupancies/{id}": ("occupancies", "id"), "vehicles/{id}": ("vehicles", "id"),
        "parking-spaces/{id}": ("parking_spaces", "id"), "device-bindings/{id}": ("device_bindings", "id"),
        "fee-items/{id}": ("fee_items", "id"), "fee-standards/{id}": ("fee_standards", "id"),
        "fee-attachments/{id}": ("fee_attachments", "id"), "usage/{id}": ("usage_records", "id"),
        "holds/{id}": ("ledger_holds", "id"), "accounts/{id}": ("ledger_accounts", "id"),
        "policies/{purpose}": ("ledger_policies", "purpose"), "bills/{id}": ("bills", "id"),
        "held-readings/{id}": ("held_readings", "id"), "ingest/{integration}": ("integrations", "id"),
        "integrations/{id}": ("integrations", "id"), "prepaid-plans/{id}": ("prepaid_plans", "id"),
        "supply-overrides/{override}": ("supply_overrides", "id"), "payment-orders/{out_trade_no}": ("payment_orders", "out_trade_no"),
        "payments/{id}": ("payments", "id"), "r/{token}": ("receipts", "token"), "cashier-shifts/{id}": ("cashier_shifts", "id"),
        "refunds/{id}": ("refunds", "id"), "deposits/{id}": ("deposits", "id"), "lines/{id}": ("bank_statement_lines", "id"),
        "payment-callbacks/{id}": ("payment_callbacks", "id"),
    ]

    /// Parameters for which company B has no row in the sweep's fixture, so a made-up value stands in (and the
    /// comparison with a made-up id is trivially equal). Kept short and named, so a gap in coverage is a decision.
    static let withoutBravoRow: Set<String> = ["held-readings/{id}"]

    /// `METHOD /path` of a documented operation.
    static func key(_ operation: OpenAPIDocument.Operation) -> String { "\(operation.method.rawValue) \(operation.path)" }

    /// The path parameters of `path`, each named by the segment before it (`devices/{id}`), in order.
    static func parameters(_ path: String) -> [String] {
        let parts = path.split(separator: "/").map(String.init)
        return parts.indices.compactMap { index in
            parts[index].hasPrefix("{") && index > 0 ? "\(parts[index - 1])/\(parts[index])" : nil
        }
    }

    /// `path` with each parameter replaced by `value(parameter)`.
    static func fill(_ path: String, _ value: (String) -> String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        return parts.indices.map { index in
            parts[index].hasPrefix("{") ? value("\(parts[index - 1])/\(parts[index])") : parts[index]
        }.joined(separator: "/")
    }

    /// The role matrix as docs/AUTH.md's table writes it: for each permission row, the roles with a tick.
    static func documentedMatrix() throws -> [Permission: Set<Role>] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/AUTH.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("| permission |") }) else { return [:] }
        let roleNames = lines[header].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst()
        let roles = roleNames.map { name in Role(rawValue: name.replacingOccurrences(of: " ", with: "_")) }
        var matrix: [Permission: Set<Role>] = [:]
        for line in lines[(header + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, let permission = Permission(rawValue: cells[1]) else { continue }
            var holders: Set<Role> = []
            for (offset, role) in roles.enumerated() where cells.count > offset + 2 && cells[offset + 2] == "✓" {
                if let role { holders.insert(role) }
            }
            matrix[permission] = holders
        }
        return matrix
    }

    @Test("every documented route is classified: a permission or an entry here, and a source for each path parameter")
    func everyRouteIsClassified() async throws {
        try await APIFixture.with(.sqlite) { api in
            var unclassified: [String] = []
            for operation in api.document.operations {
                let key = Self.key(operation)
                if operation.permission == nil, Self.withoutPermission[key] == nil { unclassified.append("\(key): no access") }
                if operation.permission != nil, Self.withoutPermission[key] != nil { unclassified.append("\(key): two accesses") }
                for parameter in Self.parameters(operation.path) where Self.parameterSources[parameter] == nil {
                    unclassified.append("\(key): no source for \(parameter)")
                }
            }
            #expect(unclassified.isEmpty, "classify in RouteSweepTests: \(unclassified)")
            let documented = Set(api.document.operations.map(Self.key))
            #expect(Set(Self.withoutPermission.keys).subtracting(documented).isEmpty, "entries for routes that are gone")
            #expect(Self.alsoForOwners.isSubset(of: documented))
        }
    }

    @Test("the role matrix in docs/AUTH.md is the one the code grants")
    func documentedMatrixIsTheCodes() throws {
        let documented = try Self.documentedMatrix()
        for permission in Permission.allCases {
            let granted = Set(Role.allCases.filter { $0.allows(permission) })
            #expect(
                documented[permission] == granted, "\(permission.rawValue): docs/AUTH.md says \(documented[permission] ?? []), the code \(granted)")
        }
    }

    /// The logins of company A by role, and the header the platform administrator names A's company with.
    static func signIn(_ api: APIFixture) async throws -> [(role: Role, token: String, headers: [String: String])] {
        var signedIn: [(Role, String, [String: String])] = [
            (.platformAdmin, try await api.login("platform-alpha-test"), ["X-Courtyard-Company": api.alpha.companyId])
        ]
        for login in api.alpha.logins where login.role != .platformAdmin {
            signedIn.append((login.role, try await api.login(login.login), [:]))
        }
        #expect(Set(signedIn.map(\.0)) == Set(Role.allCases), "the fixture signs in one person of every role")
        return signedIn
    }

    @Test(
        "every role gets exactly what the matrix grants on every route: 403 without the permission, and nothing written",
        arguments: TestEngine.available)
    func everyRoleOnEveryRoute(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let matrix = try Self.documentedMatrix()
            let people = try await Self.signIn(api)
            let before = try await api.tableCounts()
            var wrong: [String] = []
            var refused = 0
            for operation in api.document.operations {
                let key = Self.key(operation)
                let entry: Entry? = operation.permission.map { _ in nil } ?? Self.withoutPermission[key]
                // Routes for machines and anyone are swept by their own suites; logging out would end the sweep's session.
                if let entry, entry == .anyone || entry == .device || entry == .integration || key == "POST /api/v1/auth/logout" { continue }
                // A made-up id for every parameter: an allowed caller finds nothing (404) and a refused one is refused first.
                let uri = Self.fill(operation.path) { _ in Identifier.uuidV7(at: Date()) }
                for person in people {
                    let allowed: Bool
                    switch entry {
                    case nil:
                        let permission = operation.permission!
                        allowed = matrix[permission, default: []].contains(person.role) || (person.role == .owner && Self.alsoForOwners.contains(key))
                    case .ownerOrStaff(let permission):
                        allowed = person.role == .owner || matrix[permission, default: []].contains(person.role)
                    case .signedIn:
                        allowed = true
                    case .anyone, .device, .integration:
                        continue
                    }
                    let body: Any? = operation.method == .get || operation.method == .delete ? nil : [String: Any]()
                    let reply = try await api.call(operation.method, uri, token: person.token, json: body, headers: person.headers)
                    if allowed {
                        if reply.status == .forbidden || reply.status == .unauthorized || reply.status.code >= 500 {
                            wrong.append("\(person.role.rawValue) allowed on \(key) got \(reply.status.code) \(reply.code ?? "")")
                        }
                    } else {
                        refused += 1
                        if reply.status != .forbidden || reply.code != "forbidden" {
                            wrong.append("\(person.role.rawValue) refused on \(key) got \(reply.status.code) \(reply.code ?? "")")
                        }
                    }
                }
            }
            #expect(wrong.isEmpty, "\(wrong.count) answers differ from the matrix:\n\(wrong.joined(separator: "\n"))")
            #expect(refused > 300, "the sweep refused \(refused) requests")
            #expect(try await api.tableCounts() == before, "a swept request wrote something")
        }
    }
}

extension RouteSweepTests {
    /// Company B's records of the kinds the sweep names: a bill run, a desk payment with its receipt and shift, a refund
    /// request and an integration, made through B's own API as B's staff would.
    static func populateBravo(_ api: APIFixture) async throws {
        let finance = try await api.login("finance@bravo")
        let desk = try await api.login("frontdesk@bravo")
        let admin = try await api.login("admin@bravo")
        let community = try #require(try await api.first("communities", token: finance)["id"] as? String)
        let run = try await api.call(.post, "/api/v1/communities/\(community)/bill-runs", token: finance, json: ["period": "2026-10"])
        #expect(run.status == .created, "\(run.text)")
        let house = try #require(
            try await api.call(.get, "/api/v1/bills?community_id=\(community)&limit=1", token: finance).items.first?["house_id"] as? String)
        let shift = try #require(
            try await api.call(
                .post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": community, "opening_float": Prepaid.money("0.00")]
            )
            .object["id"] as? String)
        let paid = try await api.call(
            .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
            json: [
                "id": "bravo-desk-1", "house_id": house, "purpose": "top_up", "wallet_purpose": "general", "channel": "cash",
                "amount": Prepaid.money("30.00"),
            ])
        let payment = try #require(paid.object["payment_id"] as? String, "\(paid.text)")
        let refund = try await api.call(
            .post, "/api/v1/refunds", token: desk,
            json: [
                "id": "bravo-refund-1", "source": "payment", "payment_id": payment, "amount": Prepaid.money("1.00"), "reason_code": "overpayment",
                "reason": "sweep", "destination": "cash",
            ])
        #expect(refund.status == .created, "\(refund.text)")
        let integration = try await api.call(.post, "/api/v1/integrations", token: admin, json: ["name": "bravo-sweep"])
        #expect(integration.status == .created, "\(integration.text)")
        // A deposit taken at the same desk, and a bank statement with one line nothing matches.
        let deposit = try await api.call(
            .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
            json: [
                "id": "bravo-deposit-1", "house_id": house, "purpose": "deposit", "channel": "cash", "amount": Prepaid.money("500.00"),
                "deposit_kind": "decoration", "deposit_conditions": [["kind": "inspection_passed"]],
            ])
        #expect(deposit.status == .created, "\(deposit.text)")
        let statement = try await api.call(
            .post, "/api/v1/bank-statements", token: finance,
            raw: "transaction_id,value_date,amount,reference,payer_name\nBRAVO-1,2026-11-22,12.00,no reference,李四\n",
            headers: ["Content-Type": "text/csv"])
        #expect(statement.status == .ok, "\(statement.text)")
        // A prepaid plan on one of B's meters, an engineer's exemption on that meter, a ledger policy and a hold.
        let meter = try await api.database.read { db in
            try await db.raw(
                """
                SELECT d.id, b.target_id FROM devices d JOIN device_bindings b ON b.device_id = d.id AND b.target_kind = 'house'
                WHERE d.company_id = \(bind: api.bravo.companyId) AND d.kind = 'electricity_meter' ORDER BY d.device_key LIMIT 1
                """
            ).first().map { (try $0.decode(column: "id", as: String.self), try $0.decode(column: "target_id", as: String.self)) }
        }
        let (device, meterHouse) = try #require(meter)
        let plan = try await api.call(
            .post, "/api/v1/prepaid-plans", token: finance,
            json: [
                "house_id": meterHouse, "device_id": device, "register": "energy_total", "wallets": [["purpose": "electricity"]],
                "tariff": Prepaid.flat,
            ])
        #expect(plan.status == .created, "\(plan.text)")
        let engineer = try await api.login("engineer@bravo")
        let exemption = try await api.call(
            .post, "/api/v1/devices/\(device)/supply-overrides", token: engineer,
            json: ["kind": "exemption", "reason": "sweep", "expires_at": ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400))])
        #expect(exemption.status == .created, "\(exemption.text)")
        let policy = try await api.call(
            .put, "/api/v1/communities/\(community)/ledger/policies/parking", token: finance,
            json: ["emergency_credit": Prepaid.money("5.00")])
        #expect(policy.status == .ok, "\(policy.text)")
        let wallet = LedgerAPITests.key(community, "wallet", house, "parking")
        let cash = LedgerAPITests.key(community, "clearing", "community", "cash")
        let revenue = LedgerAPITests.key(community, "revenue", "community", "parking")
        let topUp = try await api.call(
            .post, "/api/v1/ledger/transfers", token: finance,
            json: ["transfers": [["id": "bravo-top", "debit": cash, "credit": wallet, "amount": Prepaid.money("50.00"), "code": "top_up"]]])
        #expect(topUp.status == .ok || topUp.status == .created, "\(topUp.text)")
        let hold = try await api.call(
            .post, "/api/v1/ledger/holds", token: finance,
            json: [
                "id": "bravo-hold", "debit": wallet, "credit": revenue, "amount": Prepaid.money("10.00"), "code": "deduction",
                "expires_at": ISO8601DateFormatter().string(from: Date().addingTimeInterval(3_600)),
            ])
        #expect(hold.status == .created, "\(hold.text)")
    }

    /// Where list filters name another company's records: query parameter → table.
    static let filterSources: [String: String] = [
        "community_id": "communities", "building_id": "buildings", "unit_id": "units", "house_id": "houses", "person_id": "people",
        "device_id": "devices", "fee_item_id": "fee_items", "bill_run_id": "bill_runs", "subject_id": "houses",
        "shift_id": "cashier_shifts",
    ]

    /// One value of `column` in `table` belonging to company B, if B has a row there.
    static func bravoValue(_ api: APIFixture, table: String, column: String) async throws -> String? {
        try await api.database.read { db in
            try await db.raw(
                "SELECT \(unsafeRaw: column) AS v FROM \(unsafeRaw: table) WHERE company_id = \(bind: api.bravo.companyId) ORDER BY \(unsafeRaw: column) LIMIT 1"
            ).first()?.decode(column: "v", as: String.self)
        }
    }

    /// Everything of company B that A must never see: the ids of its rows in every table the sweep reaches, its people's
    /// names and phone numbers, its logins and its name.
    static func bravoSecrets(_ api: APIFixture) async throws -> Set<String> {
        let tables = Set(parameterSources.values.map(\.table)).union(filterSources.values).union(["receipts", "payment_orders", "ledger_accounts"])
        return try await api.database.read { db in
            var secrets: Set<String> = []
            let company = api.bravo.companyId
            for table in tables where table != "ledger_policies" {
                let column = table == "receipts" ? "token" : "id"
                for row in try await db.raw("SELECT \(unsafeRaw: column) AS v FROM \(unsafeRaw: table) WHERE company_id = \(bind: company)").all() {
                    secrets.insert(try row.decode(column: "v", as: String.self))
                }
            }
            for row in try await db.raw("SELECT name, phone FROM people WHERE company_id = \(bind: company)").all() {
                secrets.insert(try row.decode(column: "name", as: String.self))
                if let phone = try row.decode(column: "phone", as: String?.self) { secrets.insert(phone) }
            }
            for row in try await db.raw("SELECT login FROM users WHERE company_id = \(bind: company)").all() {
                secrets.insert(try row.decode(column: "login", as: String.self))
            }
            for row in try await db.raw("SELECT name, code FROM companies WHERE id = \(bind: company)").all() {
                secrets.insert(try row.decode(column: "name", as: String.self))
                secrets.insert(try row.decode(column: "code", as: String.self))
            }
            return secrets.filter { $0.count >= 4 }
        }
    }

    @Test(
        "company A's administrator given company B's ids gets what a made-up id gets (404), never a byte of B, and writes nothing",
        arguments: TestEngine.available)
    func anotherCompanysIdsOnEveryRoute(engine: TestEngine) async throws {
        try await APIFixture.with(engine, billing: true) { api in
            try await Self.populateBravo(api)
            let admin = try await api.login("admin@alpha")
            let secrets = try await Self.bravoSecrets(api)
            #expect(secrets.count > 100, "B has \(secrets.count) secrets")
            var bravo: [String: String] = [:]
            for (parameter, source) in Self.parameterSources {
                if let value = try await Self.bravoValue(api, table: source.table, column: source.column) { bravo[parameter] = value }
            }
            let missing = Set(Self.parameterSources.keys).subtracting(bravo.keys)
            #expect(
                missing == Self.withoutBravoRow,
                "B's rows: missing \(missing.subtracting(Self.withoutBravoRow)), now present \(Self.withoutBravoRow.subtracting(missing))")
            // Bodies the routes accept: each request schema's documented example.
            let openapi = try await api.call(.get, "/openapi.json").object
            let schemas = ((openapi["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
            func example(_ operation: OpenAPIDocument.Operation) -> Any? {
                guard operation.method != .get, operation.method != .delete else { return nil }
                var body = operation.requestSchema.flatMap { (schemas[$0] as? [String: Any])?["example"] } ?? [String: Any]()
                // The documented override ends on a fixed day; the rule wants one within the coming year.
                if operation.requestSchema == "SupplyOverrideInput", var object = body as? [String: Any] {
                    object["expires_at"] = ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400))
                    body = object
                }
                return body
            }
            // Query values the routes require, the same for B's ids and made-up ones.
            let samples = [
                "from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "kind": "electricity", "granularity": "day",
            ]
            func query(_ operation: OpenAPIDocument.Operation) -> String {
                let pairs = operation.queryParameters.compactMap { name in samples[name].map { "\(name)=\($0)" } }
                return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
            }
            // A void names its supervisor before anything is looked up.
            let supervisor = ["Courtyard-Supervisor": try await api.login("finance@alpha")]
            let before = try await api.tableCounts()
            var wrong: [String] = []
            var leaks: [String] = []
            var swept = 0
            func check(_ reply: APIFixture.Reply, _ what: String, sent: [String]) {
                // What the request itself sent may come back (an id named in a 404); nothing else of B may.
                let shown = secrets.filter { secret in !sent.contains { $0.contains(secret) } && reply.text.contains(secret) }
                if !shown.isEmpty { leaks.append("\(what) shows \(shown.sorted().prefix(3))") }
            }
            for operation in api.document.operations {
                let key = Self.key(operation)
                if let entry = Self.withoutPermission[key], entry == .anyone || entry == .device || entry == .integration { continue }
                if key == "POST /api/v1/auth/logout" { continue }
                let parameters = Self.parameters(operation.path)
                if parameters.isEmpty {
                    guard operation.method == .get else { continue }
                    // Lists: unfiltered, then filtered by each of B's records a filter can name.
                    let plain = try await api.call(.get, operation.path, token: admin)
                    check(plain, key, sent: [])
                    swept += 1
                    for name in operation.queryParameters {
                        guard let table = Self.filterSources[name], let value = try await Self.bravoValue(api, table: table, column: "id") else {
                            continue
                        }
                        let filtered = try await api.call(.get, "\(operation.path)?\(name)=\(value)", token: admin)
                        check(filtered, "\(key)?\(name)=", sent: [value])
                        if filtered.status == .ok, !filtered.items.isEmpty { wrong.append("\(key)?\(name)=B's: \(filtered.items.count) items") }
                        swept += 1
                    }
                    continue
                }
                let body = example(operation)
                let madeUp = try await api.call(
                    operation.method, Self.fill(operation.path) { _ in Identifier.uuidV7(at: Date()) } + query(operation), token: admin,
                    json: body, headers: supervisor)
                let values = parameters.map { bravo[$0] ?? Identifier.uuidV7(at: Date()) }
                var index = 0
                let uri = Self.fill(operation.path) { _ in
                    defer { index += 1 }
                    return values[index]
                }
                let reply = try await api.call(operation.method, uri + query(operation), token: admin, json: body, headers: supervisor)
                swept += 1
                check(reply, key, sent: values)
                if reply.status != madeUp.status || reply.code != madeUp.code {
                    wrong.append("\(key): B's ids \(reply.status.code) \(reply.code ?? ""), made-up \(madeUp.status.code) \(madeUp.code ?? "")")
                } else if reply.status != .notFound {
                    wrong.append("\(key): \(reply.status.code) \(reply.code ?? "") for B's ids and made-up ones, not 404: \(reply.text.prefix(300))")
                }
            }
            #expect(wrong.isEmpty, "\(wrong.count) routes answer B's ids otherwise:\n\(wrong.joined(separator: "\n"))")
            #expect(leaks.isEmpty, "\(leaks.count) answers show B's data:\n\(leaks.joined(separator: "\n"))")
            #expect(swept > 100, "swept \(swept) requests")
            #expect(try await api.tableCounts() == before, "a request with B's ids wrote something")
        }
    }
}
