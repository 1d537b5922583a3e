import CourtyardBilling
import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import CourtyardWeb
import Foundation
import Hummingbird
import Logging

/// The staff console: the dashboard, finding a house and taking its payment at the desk, the cashier's shift, the
/// readings held for review, and bill runs. Each page shows what the role may do and each form calls the same use case
/// as its API route.
extension WebRoutes {
    static func registerConsole(_ web: WebRouter) {
        registerDashboard(web)
        registerHouses(web)
        registerShift(web)
        registerReview(web)
        registerBillRuns(web)
        registerRefunds(web)
        registerBill(web)
        registerAudit(web)
    }

    // MARK: Dashboard

    static func registerDashboard(_ web: WebRouter) {
        let services = web.services
        web.page(.get, "/console") { page in
            let principal = try page.staff()
            guard let scope = principal.scope else { throw Problem.forbidden("read_property") }
            let role = principal.role
            let now = services.clock.now()
            var tiles: [WebRow.Tile] = []
            func tile(_ key: String, _ value: String, detail: String? = nil, href: String? = nil, alert: Bool = false) {
                tiles.append(WebRow.Tile(key: key, label: page.text(key), value: value, detail: detail, href: href, alert: alert))
            }
            let zone = try await page.zone(scope)
            let today = LocalDate.of(now, timeZone: zone.identifier)
            let finance = role.allows(.readFinance)
            let devices = role.allows(.readDevices)
            let key = [scope.companyId, scope.communityIds.map { $0.sorted().joined(separator: ",") } ?? "*", "\(finance)", "\(devices)",
                today.description].joined(separator: "|")
            let entry = try await services.dashboard.figures(key, now: now, maxAge: 60) {
                try await dashboardFigures(scope: scope, today: today, zone: zone, finance: finance, devices: devices, services: services)
            }
            var channels: [WebRow.ChannelTotal] = []
            if let figures = entry.figures.billing {
                func rate(_ pair: (billed: Int64, collected: Int64)) -> (String, String) {
                    (
                        WebFormat.percent(pair.collected, of: pair.billed) ?? "—",
                        page.text("collected") + " " + WebFormat.money(pair.collected) + " / " + page.text("billed") + " "
                            + WebFormat.money(pair.billed)
                    )
                }
                let month = rate(figures.month)
                tile("collection_rate_month", month.0, detail: month.1)
                let year = rate(figures.year)
                tile("collection_rate_year", year.0, detail: year.1)
                tile(
                    "overdue", WebFormat.money(figures.overdue.amount),
                    detail: page.text("overdue_houses") + " \(figures.overdue.houses)", alert: figures.overdue.amount > 0)
                let total = figures.channels.reduce(Int64(0)) { $0 + $1.amount }
                tile("payments_today", WebFormat.money(total), detail: "\(figures.channels.reduce(Int64(0)) { $0 + $1.count })")
                tile("held_callbacks", "\(figures.heldCallbacks)", alert: figures.heldCallbacks > 0)
                channels = figures.channels.map { WebRow.ChannelTotal(channel: $0.channel, count: $0.count, amount: WebFormat.money($0.amount)) }
            }
            if let counts = entry.figures.devices {
                tile("cut_off_meters", "\(counts.cutOff)", alert: counts.cutOff > 0)
                tile("cutoff_pending", "\(counts.cutOffPending)", alert: counts.cutOffPending > 0)
                tile("offline_devices", "\(counts.offline)", alert: counts.offline > 0)
                tile("held_readings", "\(counts.heldReadings)", href: "/console/review", alert: counts.heldReadings > 0)
            }
            var model = PageModel()
            model["tiles"] = tiles
            model["channels"] = channels
            model["asOf"] = WebFormat.localDateTime(entry.computedAt, zone: zone)
            return page.render("console_dashboard", title: "dashboard", area: "console", model: model)
        }
    }

    /// The dashboard's sums for a scope, as of `today` in `zone`: what the cache keeps.
    static func dashboardFigures(
        scope: TenantScope, today: LocalDate, zone: TimeZone, finance: Bool, devices: Bool, services: ServerServices
    ) async throws -> DashboardCache.Figures {
        let engine = services.database.engine
        var figures = DashboardCache.Figures()
        if finance {
            let monthStart = LocalDate(year: today.year, month: today.month, day: 1) ?? today
            let nextMonth =
                (today.month == 12 ? LocalDate(year: today.year + 1, month: 1, day: 1) : LocalDate(year: today.year, month: today.month + 1, day: 1))
                ?? today
            let yearStart = LocalDate(year: today.year, month: 1, day: 1) ?? today
            let nextYear = LocalDate(year: today.year + 1, month: 1, day: 1) ?? today
            let dayStart = OwnerAccess.Hold(scope: scope, since: today, timeZone: zone.identifier).sinceMilliseconds
            figures.billing = try await services.database.read { db in
                let tenant = TenantSQL(db, scope: scope, engine: engine)
                let billing = BillingFigures(tenant)
                let payments = PaymentFigures(tenant)
                return DashboardCache.BillingPart(
                    month: try await billing.collection(issuedFrom: monthStart, until: nextMonth),
                    year: try await billing.collection(issuedFrom: yearStart, until: nextYear),
                    overdue: try await billing.overdue(on: today),
                    channels: try await payments.byChannel(
                        from: Date(epochMilliseconds: dayStart), until: Date(epochMilliseconds: dayStart + 86_400_000)
                    ).map { (channel: $0.channel, count: $0.count, amount: $0.amount) },
                    heldCallbacks: try await payments.heldCallbacks())
            }
        }
        if devices {
            figures.devices = try await services.database.read { db in
                let tenant = TenantSQL(db, scope: scope, engine: engine)
                let supply = try await SupplyFigures(tenant).counts()
                return DashboardCache.DevicePart(
                    cutOff: supply.cutOff, cutOffPending: supply.cutOffPending, offline: try await PresenceFigures(tenant).offline(),
                    heldReadings: try await ReviewFigures(tenant).pending())
            }
        }
        return figures
    }

    // MARK: Houses and the desk

    static func registerHouses(_ web: WebRouter) {
        let services = web.services
        let engine = services.database.engine
        web.page(.get, "/console/houses") { page in
            let (_, scope) = try page.staff(.readProperty)
            let q = (page.request.uri.queryParameters["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
            var model = PageModel()
            model["q"] = q
            model["searched"] = !q.isEmpty
            // A bill's code read by the desk's scanner (typed into this box, then Enter) opens the bill's house.
            if let billId = billId(inReference: q) {
                let bill = try await services.database.read { db in try await ScopedStore(db, scope: scope).find(Bill.self, id: billId) }
                guard let bill else { throw Problem.notFound("bill") }
                return page.redirect("/console/houses/" + bill.houseId)
            }
            if !q.isEmpty {
                guard q.count <= 40 else { throw Problem.invalid("q", code: "too_long", "search with at most 40 characters") }
                let now = services.clock.now()
                let results = try await services.database.read { db -> [WebRow.House] in
                    let store = ScopedStore(db, scope: scope)
                    var rows: [WebRow.House] = []
                    for match in try await HouseSearchRoute.search(q, community: nil, limit: 50, store: store, now: now) {
                        let community = try await store.find(Community.self, id: match.house.communityId)
                        rows.append(
                            WebRow.House(
                                id: match.house.id, name: houseLabel(match.house, building: match.buildingName, unit: match.unitName),
                                community: community?.name ?? "", people: match.matched.joined(separator: "; ")))
                    }
                    return rows
                }
                // One match: straight to the house, as a typed number expects.
                if results.count == 1 { return page.redirect("/console/houses/" + results[0].id) }
                model["results"] = results
            } else {
                model["results"] = [WebRow.House]()
            }
            return page.render("console_houses", title: "find_house", area: "console", model: model)
        }

        web.page(.get, "/console/houses/:id") { page in
            let (principal, scope) = try page.staff(.readProperty)
            let id = try page.context.parameters.require("id")
            let now = services.clock.now()
            guard let house = try await services.database.read({ db in try await ScopedStore(db, scope: scope).find(House.self, id: id) })
            else { throw Problem.notFound("house") }
            var model = try await houseModel(house, scope: scope, principal: principal, page: page, now: now)
            if let token = page.request.uri.queryParameters["receipt"].map(String.init), token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
                model["receipt"] = "/r/" + token
            }
            return page.render("console_house", title: page.text("house") + " " + (model["name"] as? String ?? house.number), area: "console", model: model)
        }

        web.page(.post, "/console/houses/:id/payments") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.takePayments)
            let houseId = try page.context.parameters.require("id")
            guard let requestId = form.text("request_id"), requestId.utf8.count <= 64 else {
                throw Problem.invalid("request_id", code: "required", "open the house's page again")
            }
            guard let text = form.text("amount"), let amount = try? Money(parsing: text), amount.minorUnits > 0 else {
                throw Problem.invalid("amount", code: "invalid_amount", "the amount is in yuan, like 120 or 120.50")
            }
            let channel = form.text("channel") ?? "cash"
            let now = services.clock.now()
            let shift = try await services.database.read { db in
                try await CashDesk(db, companyId: scope.companyId, engine: engine).openShift(cashierId: principal.user.id, scope: scope)
            }
            guard let shift else { return page.redirect("/console/shift") }
            let payment = CashDesk.DeskPayment(
                id: requestId, houseId: houseId, purpose: .bills, channel: channel, amount: amount,
                posReference: form.text("pos_reference"))
            let outcome = try await PaymentRoutes.mapped {
                try await services.database.transaction { db in
                    try await CashDesk(db, companyId: scope.companyId, engine: engine).take(
                        payment, shiftId: shift.id, cashierId: principal.user.id, scope: scope,
                        order: services.payments.allocationOrder, ports: services.payments.ports, now: now)
                }
            }
            if !outcome.commands.isEmpty { await services.dispatcher.wake() }
            var location = "/console/houses/\(houseId)?done=payment_taken"
            if let token = outcome.receiptToken { location += "&receipt=" + token }
            return page.redirect(location)
        }
    }

    /// `3-2-1201`: building, unit and number as a front desk says them.
    static func houseLabel(_ house: House, building: String?, unit: String?) -> String {
        [building, unit, house.number].compactMap { $0 }.joined(separator: "-")
    }

    /// A house's page values: its people, balances, what it owes, its payments, and the desk's form.
    static func houseModel(_ house: House, scope: TenantScope, principal: Principal, page: WebPage, now: Date) async throws -> PageModel {
        let services = page.services
        let engine = services.database.engine
        let canReadFinance = principal.role.allows(.readFinance) || principal.role.allows(.takePayments)
        let loaded = try await services.database.read { db in
            let store = ScopedStore(db, scope: scope)
            let community = try await store.find(Community.self, id: house.communityId)
            let building = try await store.find(Building.self, id: house.buildingId)
            var unit: BuildingUnit? = nil
            if let unitId = house.unitId { unit = try await store.find(BuildingUnit.self, id: unitId) }
            let zone = community?.timeZone ?? "Asia/Shanghai"
            let today = LocalDate.of(now, timeZone: zone)
            var people: [WebRow.Person] = []
            if principal.role.allows(.readPeople) {
                for occupancy in try await store.listAll(Occupancy.self, filters: [("house_id", house.id)])
                where occupancy.validFrom <= today && (occupancy.validUntil.map { today < $0 } ?? true) {
                    guard let person = try await store.find(Person.self, id: occupancy.personId) else { continue }
                    people.append(WebRow.Person(name: person.name, relation: page.text(occupancy.role.rawValue), phone: person.phone.map(masked)))
                }
            }
            var overview: PrepaidOverview? = nil
            var shift: CashierShift? = nil
            if canReadFinance {
                overview = try await PrepaidOverview.load(db, companyId: scope.companyId, house: house.id, engine: engine, now: now)
                if principal.role.allows(.takePayments) {
                    shift = try await CashDesk(db, companyId: scope.companyId, engine: engine).openShift(cashierId: principal.user.id, scope: scope)
                }
            }
            return (community, building, unit, people, overview, shift)
        }
        let (community, building, unit, people, overview, shift) = loaded
        let payments =
            canReadFinance
            ? try await paymentRows(
                scope: scope, filter: .init(houseId: house.id, communityIds: scope.communityIds),
                zone: TimeZone(identifier: community?.timeZone ?? "Asia/Shanghai") ?? .gmt, services: services) : []
        var model = PageModel()
        model["name"] = houseLabel(house, building: building?.name, unit: unit?.name)
        model["community"] = community?.name ?? ""
        model["area"] = house.builtArea.decimalText + " m²"
        model["people"] = people
        model["payments"] = payments
        model["wallets"] = walletRows(overview, page: page)
        var due: Int64 = 0
        var bills: [WebRow.Bill] = []
        if canReadFinance {
            (bills, due) = try await billRows(house.id, scope: scope, services: services)
        }
        model["bills"] = bills
        model["totalDue"] = WebFormat.money(due)
        if principal.role.allows(.takePayments) {
            var desk: [String: Any] = ["houseId": house.id, "requestId": Identifier.uuidV7(at: now)]
            desk["shiftId"] = shift?.id
            desk["suggested"] = due > 0 ? FixedPoint.format(due, scale: 2) : ""
            model["desk"] = desk
        }
        return model
    }

    /// Payments as rows with their receipts' links, newest first.
    static func paymentRows(
        scope: TenantScope, filter: PaymentStore.PaymentFilter, zone: TimeZone, limit: Int = 10, services: ServerServices
    ) async throws -> [WebRow.Payment] {
        let engine = services.database.engine
        return try await services.database.read { db in
            let store = ScopedStore(db, scope: scope)
            let receipts = ReceiptBook(db, companyId: scope.companyId, engine: engine)
            var rows: [WebRow.Payment] = []
            for payment in try await PaymentStore(db, companyId: scope.companyId, engine: engine).payments(filter, after: nil, limit: limit) {
                let receipt = try await receipts.receipt(kind: .payment, subjectId: payment.id)
                let house = filter.houseId == nil ? try await store.find(House.self, id: payment.houseId)?.number : nil
                rows.append(
                    WebRow.Payment(
                        paidAt: WebFormat.localDateTime(payment.paidAt, zone: zone), house: house, channel: payment.channel,
                        amount: WebFormat.money(payment.amount), receipt: receipt.map { "/r/" + $0.token }))
            }
            return rows
        }
    }

    /// A house's prepaid wallets, each once, with a low balance marked.
    static func walletRows(_ overview: PrepaidOverview?, page: WebPage) -> [WebRow.Wallet] {
        var wallets: [WebRow.Wallet] = []
        for plan in overview?.plans ?? [] {
            for wallet in plan.wallets where !wallets.contains(where: { $0.purpose == wallet.purpose }) {
                wallets.append(
                    WebRow.Wallet(
                        purpose: wallet.purpose, label: page.text(wallet.purpose), balance: WebFormat.money(wallet.balance),
                        low: wallet.available.minorUnits <= 0 || plan.estimatedDaysLeft.map { $0 <= 3 } ?? false))
            }
        }
        return wallets
    }

    /// What a house owes today, bill by bill, as a payment would take it, and the total.
    static func billRows(_ houseId: String, scope: TenantScope, services: ServerServices) async throws -> ([WebRow.Bill], Int64) {
        let debts = try await services.payments.openDebts(houseId: houseId, scope: scope)
        let bills = try await services.database.read { db in
            var bills: [String: Bill] = [:]
            for debt in debts { bills[debt.debt.billId] = try await ScopedStore(db, scope: scope).find(Bill.self, id: debt.debt.billId) }
            return bills
        }
        var total: Int64 = 0
        var rows: [WebRow.Bill] = []
        for debt in debts {
            let owed = debt.debt.principal + debt.debt.lateFee
            total += owed
            let bill = bills[debt.debt.billId]
            rows.append(
                WebRow.Bill(
                    id: debt.debt.billId, period: debt.period, dueDate: bill?.dueDate.description ?? "",
                    total: WebFormat.money(bill?.totalAmount ?? 0), due: WebFormat.money(owed)))
        }
        return (rows, total)
    }

    /// A phone as the desk shows it: the last four digits (`*******1234`).
    static func masked(_ phone: String) -> String {
        phone.count <= 4 ? phone : String(repeating: "*", count: phone.count - 4) + phone.suffix(4)
    }

    // MARK: The audit log

    static func registerAudit(_ web: WebRouter) {
        let services = web.services
        web.page(.get, "/console/audit") { page in
            let (_, scope) = try page.staff(.readFinance)
            // The API's own reading of filters and cursor: an unknown filter or a malformed cursor is refused, as there.
            let (filters, cursor, _) = try ResourceRoutes.listParameters(page.request, filters: ["action", "subject_id"])
            let action = filters.first { $0.column == "action" }?.value ?? ""
            let subject = filters.first { $0.column == "subject_id" }?.value ?? ""
            let zone = try await page.zone(scope)
            let (entries, next) = try await services.database.read { [filters] db -> ([WebRow.Audit], String?) in
                let people = Dictionary(
                    try await AccountStore(db).users(companyId: scope.companyId).map { ($0.id, $0.displayName) }, uniquingKeysWith: { a, _ in a })
                let listed = try await ScopedStore(db, scope: scope).list(AuditEntry.self, filters: filters, after: cursor, limit: 50)
                return (
                    listed.items.map { entry in
                        WebRow.Audit(
                            at: WebFormat.localDateTime(entry.createdAt, zone: zone), actor: people[entry.actor] ?? entry.actor,
                            action: entry.action, subject: entry.subjectType + " " + entry.subjectId, reason: entry.reason,
                            before: entry.beforeState.flatMap { $0 == "{}" ? nil : $0 }, after: entry.afterState.flatMap { $0 == "{}" ? nil : $0 })
                    }, listed.nextCursor
                )
            }
            var model = PageModel()
            model["entries"] = entries
            model["action"] = action
            model["subject"] = subject
            if let next {
                var components = URLComponents()
                components.path = "/console/audit"
                components.queryItems = [URLQueryItem(name: "action", value: action), URLQueryItem(name: "subject_id", value: subject), URLQueryItem(name: "cursor", value: next)]
                model["next"] = components.string
            }
            return page.render("console_audit", title: "audit_log", area: "console", model: model)
        }
    }

    // MARK: A bill, printable with its code

    static func registerBill(_ web: WebRouter) {
        let services = web.services
        web.page(.get, "/console/bills/:id") { page in
            let (_, scope) = try page.staff(.readFinance)
            let id = try page.context.parameters.require("id")
            let now = services.clock.now()
            guard
                let (document, house) = try await services.database.read({ db -> (BillDocument, House?)? in
                    let store = ScopedStore(db, scope: scope)
                    guard let document = try await BillDocument.load(store, billId: id, asOf: nil, now: now) else { return nil }
                    return (document, try await store.find(House.self, id: document.bill.houseId))
                })
            else { throw Problem.notFound("bill") }
            var model = billModel(document, house: house?.number ?? "")
            model["houseId"] = document.bill.houseId
            return page.render("console_bill", title: page.text("bill") + " " + document.bill.period.description, area: "console", model: model)
        }
    }

    // MARK: The cashier's shift

    static func registerShift(_ web: WebRouter) {
        let services = web.services
        let engine = services.database.engine
        web.page(.get, "/console/shift") { page in
            let (principal, scope) = try page.staff(.takePayments)
            let zone = try await page.zone(scope)
            let (open, communities) = try await services.database.read { db -> (CashierShift?, [WebRow.Option]) in
                let open = try await CashDesk(db, companyId: scope.companyId, engine: engine).openShift(cashierId: principal.user.id, scope: scope)
                let communities = try await ScopedStore(db, scope: scope).listAll(Community.self, filters: [])
                return (open, communities.map { WebRow.Option(id: $0.id, name: $0.name, selected: false) })
            }
            var model = PageModel()
            if let open {
                let payments = try await paymentRows(scope: scope, filter: .init(shiftId: open.id), zone: zone, limit: 1_000, services: services)
                model["shift"] = WebRow.Shift(
                    openedAt: WebFormat.localDateTime(open.openedAt, zone: zone), openingFloat: WebFormat.money(open.openingFloat),
                    payments: payments)
            }
            model["communities"] = communities
            return page.render("console_shift", title: "front_desk", area: "console", model: model)
        }

        web.page(.post, "/console/shift") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.takePayments)
            guard let community = form.text("community_id") else { throw Problem.invalid("community_id", code: "required", "pick the community") }
            guard let float = try? Money(parsing: form.text("opening_float") ?? "0"), float.minorUnits >= 0 else {
                throw Problem.invalid("opening_float", code: "invalid_amount", "the float is in yuan, like 500 or 500.00")
            }
            let now = services.clock.now()
            _ = try await PaymentRoutes.mapped {
                try await services.database.transaction { db in
                    try await CashDesk(db, companyId: scope.companyId, engine: engine).open(
                        communityId: community, cashierId: principal.user.id, openingFloat: float, scope: scope, now: now)
                }
            }
            return page.redirect("/console/houses")
        }

        web.page(.post, "/console/shift/close") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.takePayments)
            guard let counted = try? Money(parsing: form.text("counted") ?? ""), counted.minorUnits >= 0 else {
                throw Problem.invalid("counted", code: "invalid_amount", "the counted cash is in yuan, like 1200 or 1200.00")
            }
            let now = services.clock.now()
            _ = try await PaymentRoutes.mapped {
                try await services.database.transaction { db in
                    let desk = CashDesk(db, companyId: scope.companyId, engine: engine)
                    guard let shift = try await desk.openShift(cashierId: principal.user.id, scope: scope) else {
                        throw PaymentError(.conflict, code: "no_open_shift", field: "shift_id", "you have no open shift")
                    }
                    return try await desk.close(
                        shiftId: shift.id, cashierId: principal.user.id, counted: counted, note: form.text("note"), scope: scope, now: now)
                }
            }
            return page.redirect("/console/shift")
        }
    }

    // MARK: Readings held for review

    static func registerReview(_ web: WebRouter) {
        let services = web.services
        let engine = services.database.engine
        web.page(.get, "/console/review") { page in
            let (_, scope) = try page.staff(.readDevices)
            let zone = try await page.zone(scope)
            let items = try await services.database.read { db -> [WebRow.Held] in
                let queue = ReviewQueue(
                    db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: engine)
                let store = ScopedStore(db, scope: scope)
                var items: [WebRow.Held] = []
                for held in try await queue.list(status: "pending", deviceId: nil, after: nil, limit: 50).items {
                    let device = try await store.find(Device.self, id: held.deviceId)
                    items.append(
                        WebRow.Held(
                            id: held.id, device: device.map { "\($0.deviceKey) (\($0.kind.rawValue))" } ?? held.deviceId,
                            measuredAt: WebFormat.localDateTime(held.measuredAt, zone: zone),
                            value: [held.reading.map { "\(held.register) \($0)" }, held.usage.map { "+\($0)" }].compactMap { $0 }.joined(separator: " · "),
                            reason: held.reason + (held.detail.isEmpty ? "" : ": " + held.detail)))
                }
                return items
            }
            var model = PageModel()
            model["items"] = items
            return page.render("console_review", title: "review_queue", area: "console", model: model)
        }

        web.page(.post, "/console/review/:id") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.manageDevices)
            let id = try page.context.parameters.require("id")
            let note = try form.reason("note")
            let now = services.clock.now()
            let user = principal.user.id
            if try form.approves() {
                _ = try await services.database.transaction { db in
                    let queue = ReviewQueue(
                        db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: engine)
                    guard let held = try await queue.get(id) else { throw ReviewError.notFound }
                    let device = try await DeviceDirectory.device(held.deviceId, scope: scope, db: db)
                    return try await queue.approve(id, by: user, note: note, editedValue: nil, device: device, now: now)
                }
                await services.ingestor.effects?.committed()
            } else {
                _ = try await services.database.transaction { db in
                    try await ReviewQueue(
                        db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: engine
                    ).reject(id, by: user, note: note, now: now)
                }
            }
            return page.redirect("/console/review?done=decided")
        }
    }

    // MARK: Bill runs

    static func registerBillRuns(_ web: WebRouter) {
        let services = web.services
        let runner = BillRunner(database: services.database, ledger: services.ledger, clock: services.clock)
        web.page(.get, "/console/bill-runs") { page in
            let (_, scope) = try page.staff(.manageFinance)
            return try await billRunPage(page, scope: scope, community: nil, period: nil, summary: nil)
        }
        web.page(.post, "/console/bill-runs") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.manageFinance)
            guard let community = form.text("community_id") else { throw Problem.invalid("community_id", code: "required", "pick the community") }
            guard let period = form.text("period"), period.utf8.count <= 16 else { throw Problem.invalid("period", code: "required", "a month like 2026-11") }
            let preview = form["action"] != "confirm"
            guard scope.includes(communityId: community) else { throw Problem.notFound("community") }
            let summary = try await BillingRoutes.mapping {
                try await runner.run(companyId: scope.companyId, communityId: community, period: period, preview: preview, actor: principal.user.id)
            }
            page.context.logger.info(
                "bill run", metadata: ["community": .string(community), "period": .string(period), "preview": .stringConvertible(preview)])
            return try await billRunPage(page, scope: scope, community: community, period: period, summary: summary)
        }
    }

    // MARK: Refunds waiting for approval (four eyes)

    static func registerRefunds(_ web: WebRouter) {
        let services = web.services
        let engine = services.database.engine
        web.page(.get, "/console/refunds") { page in
            let (principal, scope) = try page.staff(.manageFinance)
            let zone = try await page.zone(scope)
            let items = try await services.database.read { db -> [WebRow.Refund] in
                let store = ScopedStore(db, scope: scope)
                var rows: [WebRow.Refund] = []
                for refund in try await Refunds(db, companyId: scope.companyId, engine: engine).pending(scope: scope) {
                    let house = try await store.find(House.self, id: refund.houseId)
                    rows.append(
                        WebRow.Refund(
                            id: refund.id, house: house?.number ?? refund.houseId, amount: WebFormat.money(refund.amount),
                            reason: refund.reasonCode + ": " + refund.reason, destination: page.text(refund.destination.rawValue),
                            requestedAt: WebFormat.localDateTime(refund.createdAt, zone: zone), rule: refund.ruleDecision,
                            own: refund.requestedBy == principal.user.id))
                }
                return rows
            }
            var model = PageModel()
            model["items"] = items
            return page.render("console_refunds", title: "refunds", area: "console", model: model)
        }

        web.page(.post, "/console/refunds/:id") { page in
            let form = try await page.form(csrf: true)
            let (principal, scope) = try page.staff(.manageFinance)
            let id = try page.context.parameters.require("id")
            let reason = try form.reason("reason")
            let approve = try form.approves()
            _ = try await PaymentRoutes.mapped {
                try await services.payments.decideRefund(id, approve: approve, reason: reason, actor: principal.user.id, scope: scope)
            }
            return page.redirect("/console/refunds?done=decided")
        }
    }

    static func billRunPage(_ page: WebPage, scope: TenantScope, community: String?, period: String?, summary: BillRunSummary?) async throws -> Response {
        let communities = try await page.services.database.read { db in try await ScopedStore(db, scope: scope).listAll(Community.self, filters: []) }
        var model = PageModel()
        model["communities"] = communities.map { WebRow.Option(id: $0.id, name: $0.name, selected: $0.id == community) }
        model["period"] = period ?? ""
        model["canConfirm"] = summary?.preview ?? false
        if let summary {
            var items: [[String: Any]] = []
            for item in summary.items { items.append(["code": item.code, "lines": item.lines, "amount": WebFormat.money(item.amount)]) }
            let skipped = summary.skipped.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            model["summary"] = [
                "heading": page.text(summary.preview ? "previewed" : "run_done") + " · " + summary.period,
                "housesConsidered": summary.housesConsidered, "billsCreated": summary.billsCreated, "linesCreated": summary.linesCreated,
                "total": WebFormat.money(summary.totalAmount), "items": items, "hasItems": !items.isEmpty, "skipped": skipped,
                "hasSkipped": !skipped.isEmpty,
            ] as [String: Any]
        }
        return page.render("console_bill_runs", title: "bill_runs", area: "console", model: model)
    }
}

extension WebPage {
    /// Staff holding `permission`, with their scope; anyone else gets the page saying they may not.
    func staff(_ permission: Permission) throws -> (Principal, TenantScope) {
        let principal = try staff()
        guard principal.role.allows(permission), let scope = principal.scope else { throw Problem.forbidden(permission.rawValue) }
        return (principal, scope)
    }

    /// The signed-in staff member, or sign in first; owners are sent to the portal.
    func staff() throws -> Principal {
        let principal = try principal()
        guard principal.role != .owner else { throw WebRedirect(location: "/portal") }
        return principal
    }

    /// The zone the console shows times in: the first community's of the scope (communities of one company share a zone
    /// in practice), Asia/Shanghai when there is none.
    func zone(_ scope: TenantScope) async throws -> TimeZone {
        let communities = try await services.database.read { db in try await ScopedStore(db, scope: scope).listAll(Community.self, filters: []) }
        return communities.first.flatMap { TimeZone(identifier: $0.timeZone) } ?? TimeZone(identifier: "Asia/Shanghai") ?? .gmt
    }
}
