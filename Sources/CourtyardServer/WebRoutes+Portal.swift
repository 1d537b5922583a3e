import CourtyardBilling
import CourtyardDomain
import CourtyardIngest
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import CourtyardWeb
import Foundation
import Hummingbird

/// The owner portal: my houses (balances, unpaid bills, this month's usage, payments and receipts), a bill with its
/// lines, paying the bills or topping up a wallet through the company's online channel.
extension WebRoutes {
    static func registerPortal(_ web: WebRouter) {
        let services = web.services

        web.page(.get, "/portal") { page in
            let principal = try page.owner()
            let now = services.clock.now()
            var houses: [[String: Any]] = []
            for house in try await OwnerAccess.currentHouses(principal, services: services) {
                guard let hold = try await OwnerAccess.hold(principal, house: house.id, services: services) else { continue }
                houses.append(try await houseCard(house, hold: hold, page: page, now: now))
            }
            var model = PageModel()
            model["houses"] = houses
            return page.render("portal_home", title: "my_houses", area: "portal", model: model)
        }

        web.page(.get, "/portal/bills/:id") { page in
            let principal = try page.owner()
            let id = try page.context.parameters.require("id")
            guard let ownerScope = principal.scope else { throw Problem.notFound("bill") }
            let bill = try await services.database.read { db in try await ScopedStore(db, scope: ownerScope).find(Bill.self, id: id) }
            guard let bill, let hold = try await OwnerAccess.hold(principal, house: bill.houseId, services: services), bill.period.end > hold.since
            else { throw Problem.notFound("bill") }
            let now = services.clock.now()
            guard
                let (document, houseName) = try await services.database.read({ db -> (BillDocument, String)? in
                    let store = ScopedStore(db, scope: hold.scope)
                    guard let document = try await BillDocument.load(store, billId: id, asOf: nil, now: now) else { return nil }
                    let house = try await store.find(House.self, id: bill.houseId)
                    return (document, house?.number ?? "")
                })
            else { throw Problem.notFound("bill") }
            return page.render(
                "portal_bill", title: page.text("bill") + " " + document.bill.period.description, area: "portal",
                model: billModel(document, house: houseName))
        }

        // Paying: an order on the company's WeChat Pay (a Native QR code to scan), then the order's page until it is paid.
        web.page(.post, "/portal/houses/:id/top-up") { page in
            let form = try await page.form(csrf: true)
            let principal = try page.owner()
            let houseId = try page.context.parameters.require("id")
            guard let text = form.text("amount"), let amount = try? Money(parsing: text), amount.minorUnits > 0 else {
                throw Problem.invalid("amount", code: "invalid_amount", "the amount is in yuan, like 50 or 50.00")
            }
            let request = PaymentService.OrderRequest(
                id: "web-" + Identifier.uuidV7(at: services.clock.now()), houseId: houseId, purpose: .topUp, channel: "wechatpay",
                amount: amount, walletPurpose: form.text("purpose"))
            return try await placeOrder(request, principal: principal, page: page)
        }

        web.page(.post, "/portal/houses/:id/pay-bills") { page in
            _ = try await page.form(csrf: true)
            let principal = try page.owner()
            let houseId = try page.context.parameters.require("id")
            let request = PaymentService.OrderRequest(
                id: "web-" + Identifier.uuidV7(at: services.clock.now()), houseId: houseId, purpose: .bills, channel: "wechatpay")
            return try await placeOrder(request, principal: principal, page: page)
        }

        web.page(.get, "/portal/orders/:out_trade_no") { page in
            _ = try page.owner()
            let (order, _) = try await PaymentRoutes.visibleOrder(page.context, staff: .readFinance, services: services)
            var model = PageModel()
            model["outTradeNo"] = order.outTradeNo
            model["amount"] = WebFormat.money(order.amount)
            model["paid"] = order.state == .paid
            model["qr"] = order.channelRequest.flatMap { try? QRCodeDrawing.svg($0.codeUrl) } ?? ""
            return page.render("portal_order", title: order.purpose == .topUp ? "top_up" : "pay", area: "portal", model: model)
        }
    }

    /// Creates the order as the API does and shows its page.
    static func placeOrder(_ request: PaymentService.OrderRequest, principal: Principal, page: WebPage) async throws -> Response {
        let services = page.services
        let scope = try await PrepaidRoutes.houseScope(page.context, house: request.houseId, staff: .takePayments, services: services)
        let order = try await PaymentRoutes.mapped {
            try await services.payments.createOrder(request, scope: scope, actor: principal.user.id, ownerPersonId: principal.user.personId)
        }
        return page.redirect("/portal/orders/" + order.outTradeNo)
    }

    /// One house on the owner's home page.
    static func houseCard(_ house: House, hold: OwnerAccess.Hold, page: WebPage, now: Date) async throws -> [String: Any] {
        let services = page.services
        let engine = services.database.engine
        let scope = hold.scope
        let zone = TimeZone(identifier: hold.timeZone) ?? .gmt
        let (community, overview) = try await services.database.read { db in
            (
                try await ScopedStore(db, scope: scope).find(Community.self, id: house.communityId),
                try await PrepaidOverview.load(db, companyId: scope.companyId, house: house.id, engine: engine, now: now)
            )
        }
        // Payments since the owner's occupancy began, not the previous owner's.
        let payments = try await paymentRows(
            scope: scope, filter: .init(houseId: house.id, from: Date(epochMilliseconds: hold.sinceMilliseconds)), zone: zone,
            services: services)
        let (bills, due) = try await billRows(house.id, scope: scope, services: services)
        let wallets = walletRows(overview, page: page)
        // A top-up goes to one of the house's wallets (the first preselected), or to its general balance.
        var purposes = wallets.map(\.purpose)
        if !purposes.contains("general") { purposes.append("general") }
        var card: [String: Any] = [
            "id": house.id, "name": house.number, "community": community?.name ?? "",
            "wallets": wallets, "payments": payments, "hasPayments": !payments.isEmpty,
            "purposes": purposes.enumerated().map { WebRow.Option(id: $1, name: page.text($1), selected: $0 == 0) },
            "bills": bills, "hasBills": !bills.isEmpty, "totalDue": WebFormat.money(due),
        ]
        card["charts"] = try await usageCharts(house, hold: hold, page: page, now: now)
        return card
    }

    /// This month's usage per day, one chart per kind of meter the house has readings for.
    static func usageCharts(_ house: House, hold: OwnerAccess.Hold, page: WebPage, now: Date) async throws -> [WebRow.Chart] {
        let services = page.services
        let zone = hold.timeZone
        let today = LocalDate.of(now, timeZone: zone)
        guard let month = BillingPeriod(cycle: .monthly, year: today.year, index: today.month) else { return [] }
        let monthStart = OwnerAccess.Hold(scope: hold.scope, since: month.start, timeZone: zone).sinceMilliseconds
        let from = max(monthStart, hold.sinceMilliseconds)
        let to = now.epochMilliseconds
        guard to > from else { return [] }
        var charts: [WebRow.Chart] = []
        for kind in [UsageKind.electricity, .water, .gas, .heat] {
            let usage = try await services.database.read { db in
                try await HouseUsage.query(db, scope: hold.scope, houseId: house.id, kind: kind, from: from, to: to, granularity: .day)
            }
            guard !usage.meters.isEmpty, !usage.buckets.isEmpty else { continue }
            let unit = kind.unit
            let bars = usage.buckets.map { bucket in
                BarChart.Bar(
                    label: String(bucket.start.suffix(2)), value: bucket.milli, text: WebFormat.quantity(milli: bucket.milli, unit: unit),
                    highlighted: bucket.start.hasPrefix(today.description))
            }
            let total = (try? FixedPoint.parse(usage.total, scale: 3)) ?? 0
            let caption = "\(page.text(kind.rawValue)) · \(month.description) · \(WebFormat.quantity(milli: total, unit: unit))"
            charts.append(WebRow.Chart(caption: caption, svg: BarChart(caption: caption, bars: bars).svg))
        }
        return charts
    }

    /// A bill's page values: its figures and each line with how it was computed.
    static func billModel(_ document: BillDocument, house: String) -> PageModel {
        let bill = document.bill
        var model = PageModel()
        // The code the front desk's scanner reads to open the house (see `billReference`).
        model["qr"] = try? QRCodeDrawing.svg(billReference(bill.id))
        model["house"] = house
        model["period"] = bill.period.description
        model["dueDate"] = bill.dueDate.description
        model["status"] = bill.status.rawValue
        model["total"] = WebFormat.money(bill.totalAmount)
        model["paid"] = WebFormat.money(bill.paidAmount)
        model["lateFees"] = WebFormat.money(document.lateFeeTotal)
        model["due"] = WebFormat.money(document.amountDue)
        model["lines"] = document.lines.map { line -> [String: Any] in
            let item = document.feeItems[line.feeItemId]
            return [
                "item": item.map { "\($0.name) (\($0.code))" } ?? line.feeItemId,
                "quantity": line.quantity.map { WebFormat.quantity(milli: $0.milliUnits, unit: line.unit ?? "") } ?? "",
                "unitPrice": line.unitPrice.map { "¥" + $0.decimalText } ?? "",
                "amount": WebFormat.money(line.amount),
                "explain": line.breakdown.map(\.description) + (line.basis.isEmpty ? [] : [line.basis]),
            ]
        }
        return model
    }
}

extension WebRoutes {
    /// What a bill's QR code says: a USB scanner at the desk types it into the house search, which opens the bill's house.
    static func billReference(_ billId: String) -> String { "CYBILL:" + billId }

    /// The bill id in a scanned reference, or nil when `text` is not one.
    static func billId(inReference text: String) -> String? {
        guard text.uppercased().hasPrefix("CYBILL:") else { return nil }
        let id = String(text.dropFirst(7))
        guard id.utf8.count == 36, id.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return id.lowercased()
    }
}

extension WebPage {
    /// The signed-in owner, or sign in first; staff are sent to the console.
    func owner() throws -> Principal {
        let principal = try principal()
        guard principal.role == .owner else { throw WebRedirect(location: "/console") }
        return principal
    }
}
