import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@testable import CourtyardServer

/// The browser's pages through the router, as a browser uses them: cookies, forms with their tokens, redirects. The
/// real browser drives the same flows in scripts/browser-test; these pin the rules a browser cannot see.
@Suite("Web pages")
struct WebPageTests {
    typealias P = PaymentAPITests

    /// A browser's memory between requests: its cookies, and the last page.
    struct Browser {
        let api: APIFixture
        var cookies: [String: String] = [:]

        mutating func get(_ uri: String) async throws -> APIFixture.Reply {
            let reply = try await api.call(.get, uri, headers: cookieHeader)
            remember(reply)
            return reply
        }

        mutating func post(_ uri: String, form: [String: String]) async throws -> APIFixture.Reply {
            let body = form.sorted { $0.key < $1.key }.map { "\(Self.encode($0.key))=\(Self.encode($0.value))" }.joined(separator: "&")
            var headers = cookieHeader
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            let reply = try await api.call(.post, uri, raw: body, headers: headers)
            remember(reply)
            return reply
        }

        /// Signs in through the form and returns the page it lands on's location.
        mutating func signIn(_ login: String, password: String = DemoSeeder.password) async throws -> String? {
            let form = try await get("/login")
            let token = try #require(Self.value(of: "_csrf", in: form.text))
            let reply = try await post("/login", form: ["_csrf": token, "login": login, "password": password, "next": ""])
            #expect(reply.status == .seeOther, "\(login): \(reply.status) \(reply.text.prefix(300))")
            return reply.headers[.location]
        }

        var cookieHeader: [String: String] {
            cookies.isEmpty ? [:] : ["Cookie": cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        }

        mutating func remember(_ reply: APIFixture.Reply) {
            for header in reply.headers[values: .setCookie] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if header.contains("Max-Age=0") || value.isEmpty { cookies[name] = nil } else { cookies[name] = value }
            }
        }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }

        /// The value of the first input named `name` on a page.
        static func value(of name: String, in html: String) -> String? {
            guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
            let rest = html[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
    }

    @Test("a page without a session sends the browser to sign in and back; the session cookie is HttpOnly, Lax and Secure", arguments: TestEngine.available)
    func signInAndOut(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            var browser = Browser(api: api)
            let away = try await browser.get("/console")
            #expect(away.status == .seeOther)
            #expect(away.headers[.location] == "/login?next=%2Fconsole")
            let form = try await browser.get("/login?next=%2Fconsole")
            #expect(form.status == .ok)
            #expect(form.headers[.contentType] == "text/html; charset=utf-8")
            #expect(form.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(form.headers[.cacheControl] == "no-store")
            #expect(form.text.contains("<label for=\"login\">") && form.text.contains("<label for=\"password\">"))
            #expect(browser.cookies["cy_pre"] != nil, "the sign-in form is bound to a cookie of this browser")
            let token = try #require(Browser.value(of: "_csrf", in: form.text))

            // Another site's form (no token of ours) signs nobody in.
            let forged = try await browser.post("/login", form: ["_csrf": "0", "login": "finance@alpha", "password": DemoSeeder.password])
            #expect(forged.status == .badRequest)
            #expect(browser.cookies["cy_session"] == nil)
            // A wrong password is a page saying so, not a session.
            let wrong = try await browser.post("/login", form: ["_csrf": token, "login": "finance@alpha", "password": "not-it"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("role=\"alert\""))
            #expect(browser.cookies["cy_session"] == nil)

            let signedIn = try await browser.post(
                "/login", form: ["_csrf": token, "login": "finance@alpha", "password": DemoSeeder.password, "next": "/console"])
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/console")
            let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("cy_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure") && cookie.contains("Path=/"))
            let session = try #require(browser.cookies["cy_session"])

            let dashboard = try await browser.get("/console")
            #expect(dashboard.status == .ok, "\(dashboard.text.prefix(500))")
            #expect(dashboard.text.contains("data-test=\"collection_rate_month\""))
            // The cookie is for pages only: the API stays bearer-only, so no other site can drive it with a cookie.
            let api401 = try await api.call(.get, "/api/v1/me", headers: ["Cookie": "cy_session=\(session)"])
            #expect(api401.status == .unauthorized)
            // The session's form token is what the dashboard's sign-out form carries; without it, nothing happens.
            let formToken = try #require(Browser.value(of: "_csrf", in: dashboard.text))
            let refused = try await browser.post("/logout", form: ["_csrf": "forged"])
            #expect(refused.status == .forbidden)
            #expect(try await browser.get("/console").status == .ok)
            let out = try await browser.post("/logout", form: ["_csrf": formToken])
            #expect(out.status == .seeOther && out.headers[.location] == "/login")
            // The old cookie is dead even if a browser kept it.
            browser.cookies["cy_session"] = session
            #expect(try await browser.get("/console").status == .seeOther)
        }
    }

    @Test("sign-in never sends the browser to another site", arguments: [TestEngine.sqlite])
    func openRedirectRefused(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            for next in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"] {
                var browser = Browser(api: api)
                let form = try await browser.get("/login")
                let token = try #require(Browser.value(of: "_csrf", in: form.text))
                let reply = try await browser.post(
                    "/login", form: ["_csrf": token, "login": "engineer@alpha", "password": DemoSeeder.password, "next": next])
                #expect(reply.headers[.location] == "/console", "\(next) → \(reply.headers[.location] ?? "-")")
            }
        }
    }

    @Test("an owner sees their house's bills, opens one with its lines, and is refused another house's bill", arguments: TestEngine.available)
    func ownerPortal(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let ownerToken = try await api.login("owner@alpha")
            let own = try #require(try await api.call(.get, "/api/v1/me/houses", token: ownerToken).items.first)
            let ownHouse = try #require(own["id"] as? String)
            var browser = Browser(api: api)
            #expect(try await browser.signIn("owner@alpha") == "/portal")
            let home = try await browser.get("/portal")
            #expect(home.status == .ok, "\(home.text.prefix(400))")
            #expect(home.text.contains(try #require(own["number"] as? String)))
            // The console is staff's: an owner is sent to the portal.
            #expect(try await browser.get("/console").headers[.location] == "/portal")
            let bills = try await api.call(.get, "/api/v1/bills?house_id=\(ownHouse)", token: ownerToken)
            if let bill = bills.items.first?["id"] as? String {
                let page = try await browser.get("/portal/bills/\(bill)")
                #expect(page.status == .ok)
                #expect(page.text.contains("data-test=\"amount-due\""))
                #expect(home.text.contains("/portal/bills/\(bill)"))
            }
            if s.house != ownHouse {
                let other = try await browser.get("/portal/bills/\(s.bill)")
                #expect(other.status == .notFound)
                #expect(!other.text.contains(s.due))
            }
        }
    }

    @Test(
        "the front desk opens a shift, finds the house, takes cash for its bills, prints the receipt; sending the form twice takes nothing twice",
        arguments: TestEngine.available)
    func frontDeskTakesCash(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            var browser = Browser(api: api)
            _ = try await browser.signIn("frontdesk@alpha")
            let noShift = try await browser.get("/console/houses/\(s.house)")
            #expect(noShift.status == .ok)
            #expect(noShift.text.contains("/console/shift"), "no open shift: the page says to open one")
            let shiftPage = try await browser.get("/console/shift")
            let token = try #require(Browser.value(of: "_csrf", in: shiftPage.text))
            let opened = try await browser.post("/console/shift", form: ["_csrf": token, "community_id": s.community, "opening_float": "100"])
            #expect(opened.status == .seeOther, "\(opened.text.prefix(400))")

            let house = try await browser.get("/console/houses/\(s.house)")
            #expect(house.text.contains("¥\(s.due)"), "the amount due, as a payment would take it")
            let requestId = try #require(Browser.value(of: "request_id", in: house.text))
            let form = ["_csrf": token, "request_id": requestId, "amount": s.due, "channel": "cash"]
            let paid = try await browser.post("/console/houses/\(s.house)/payments", form: form)
            #expect(paid.status == .seeOther, "\(paid.text.prefix(400))")
            let location = try #require(paid.headers[.location])
            #expect(location.contains("receipt="))
            let after = try await browser.get(location)
            #expect(after.text.contains("data-test=\"print-receipt\""))
            #expect(after.text.contains("data-test=\"house-due\"") == false, "nothing is due any more")
            let receiptPath = try #require(after.text.range(of: "href=\"/r/").map { range -> String in
                let rest = after.text[range.upperBound...]
                return "/r/" + String(rest[..<rest.firstIndex(of: "\"")!])
            })
            let receipt = try await api.call(.get, receiptPath)
            #expect(receipt.status == .ok && receipt.text.contains(s.due))
            // The same form again (a double click, a resend after a timeout) takes nothing twice.
            _ = try await browser.post("/console/houses/\(s.house)/payments", form: form)
            let payments = try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance)
            #expect(payments.items.count == 1, "\(payments.text)")
            // Without the form token nothing is taken.
            let forged = try await browser.post(
                "/console/houses/\(s.house)/payments", form: ["_csrf": "x", "request_id": "other", "amount": "1", "channel": "cash"])
            #expect(forged.status == .forbidden)
        }
    }

    @Test("finance previews a month's bill run on its page, then confirms it", arguments: TestEngine.available)
    func financeBillRun(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            var browser = Browser(api: api)
            _ = try await browser.signIn("finance@alpha")
            let page = try await browser.get("/console/bill-runs")
            #expect(page.status == .ok)
            let token = try #require(Browser.value(of: "_csrf", in: page.text))
            let preview = try await browser.post(
                "/console/bill-runs", form: ["_csrf": token, "community_id": s.community, "period": "2026-09", "action": "preview"])
            #expect(preview.status == .ok, "\(preview.text.prefix(400))")
            #expect(preview.text.contains("data-test=\"bills-created\""))
            #expect(preview.text.contains("value=\"confirm\""))
            let before = try await api.call(.get, "/api/v1/bills?community_id=\(s.community)&period=2026-09", token: s.finance)
            #expect(before.items.isEmpty, "a preview writes nothing")
            let run = try await browser.post(
                "/console/bill-runs", form: ["_csrf": token, "community_id": s.community, "period": "2026-09", "action": "confirm"])
            #expect(run.status == .ok)
            let after = try await api.call(.get, "/api/v1/bills?community_id=\(s.community)&period=2026-09", token: s.finance)
            #expect(!after.items.isEmpty, "\(after.text.prefix(300))")
            // A bad month is a page saying what is wrong, and writes nothing.
            let bad = try await browser.post(
                "/console/bill-runs", form: ["_csrf": token, "community_id": s.community, "period": "2026-13", "action": "confirm"])
            #expect(bad.status.code >= 400 && bad.status.code < 500)
            #expect(bad.headers[.contentType] == "text/html; charset=utf-8")
        }
    }

    @Test("an engineer cannot take payments or run bills: the pages say so", arguments: [TestEngine.sqlite])
    func roleLimits(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            var browser = Browser(api: api)
            _ = try await browser.signIn("engineer@alpha")
            #expect(try await browser.get("/console/bill-runs").status == .forbidden)
            #expect(try await browser.get("/console/shift").status == .forbidden)
            let review = try await browser.get("/console/review")
            #expect(review.status == .ok)
            let dashboard = try await browser.get("/console")
            #expect(dashboard.text.contains("data-test=\"held_readings\""))
            #expect(!dashboard.text.contains("data-test=\"collection_rate_month\""), "finance figures are finance's")
        }
    }

    @Test("the footer switches the pages to English and back; without a choice, Accept-Language decides", arguments: [TestEngine.sqlite])
    func languages(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            var browser = Browser(api: api)
            let chinese = try await browser.get("/login")
            #expect(chinese.text.contains("<html lang=\"zh-CN\">") && chinese.text.contains("登录"))
            let english = try await api.call(.get, "/login", headers: ["Accept-Language": "en-GB,en;q=0.9"])
            #expect(english.text.contains("<html lang=\"en\">") && english.text.contains("Sign in"))
            let switched = try await browser.get("/language?to=en&next=%2Flogin")
            #expect(switched.status == .seeOther && switched.headers[.location] == "/login")
            #expect(browser.cookies["lang"] == "en")
            #expect(try await browser.get("/login").text.contains("Sign in"))
            let elsewhere = try await browser.get("/language?to=zh-CN&next=https%3A%2F%2Fevil.example%2F")
            #expect(elsewhere.headers[.location] == "/", "the switch never sends anyone to another site")
            #expect(try await browser.get("/login").text.contains("登录"))
        }
    }

    @Test("finance approves a desk clerk's refund on its page; a clerk's own request can only be rejected there", arguments: TestEngine.available)
    func refundApprovals(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let payment = try await HardeningAPITests.deskPayment(
                api, cashier: desk, community: s.community, house: s.house, id: "desk-web-1", amount: "600.00", purpose: "top_up")
            func request(_ token: String, _ id: String, _ amount: String) async throws -> String {
                let refund = try await api.call(
                    .post, "/api/v1/refunds", token: token,
                    json: [
                        "id": id, "source": "payment", "payment_id": payment, "amount": Prepaid.money(amount),
                        "reason_code": "overpayment", "reason": "paid twice", "destination": "cash",
                    ])
                #expect(refund.object["state"] as? String == "pending_approval", "\(refund.text)")
                return try #require(refund.object["id"] as? String)
            }
            let clerks = try await request(desk, "web-r1", "300.00")
            let own = try await request(s.finance, "web-r2", "200.00")
            var browser = Browser(api: api)
            _ = try await browser.signIn("finance@alpha")
            let page = try await browser.get("/console/refunds")
            #expect(page.status == .ok)
            #expect(page.text.contains("/console/refunds/\(clerks)") && page.text.contains("/console/refunds/\(own)"))
            let token = try #require(Browser.value(of: "_csrf", in: page.text))
            // The own request shows no approve button; sending the decision anyway is refused by the use case.
            let ownSection = try #require(page.text.components(separatedBy: "refund-\(own)").dropFirst().first)
            #expect(!ownSection.prefix(1_500).contains("value=\"approve\""))
            let refused = try await browser.post("/console/refunds/\(own)", form: ["_csrf": token, "decision": "approve", "reason": "fine"])
            #expect(refused.status.code >= 400, "four eyes: \(refused.status)")
            let approved = try await browser.post(
                "/console/refunds/\(clerks)", form: ["_csrf": token, "decision": "approve", "reason": "checked the bank statement"])
            #expect(approved.status == .seeOther)
            let after = try await api.call(.get, "/api/v1/refunds/\(clerks)", token: s.finance)
            #expect(after.object["state"] as? String != "pending_approval", "\(after.text)")
            #expect(after.object["decided_by"] as? String != nil)
            let still = try await api.call(.get, "/api/v1/refunds/\(own)", token: s.finance)
            #expect(still.object["state"] as? String == "pending_approval")
        }
    }

    @Test("a bill carries a code; the desk's scanner types it into the search and the bill's house opens", arguments: TestEngine.available)
    func billCodeOpensTheHouse(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            var browser = Browser(api: api)
            _ = try await browser.signIn("frontdesk@alpha")
            let bill = try await browser.get("/console/bills/\(s.bill)")
            #expect(bill.status == .ok)
            #expect(bill.text.contains(try QRCodeDrawing.svg(WebRoutes.billReference(s.bill))), "the page draws the bill's own code")
            #expect(bill.text.contains("data-test=\"amount-due\""))
            for typed in ["CYBILL:\(s.bill)", "cybill:\(s.bill.uppercased())"] {
                let scanned = try await browser.get("/console/houses?q=" + Browser.encode(typed))
                #expect(scanned.status == .seeOther && scanned.headers[.location] == "/console/houses/\(s.house)", "\(typed)")
            }
            let unknown = try await browser.get("/console/houses?q=" + Browser.encode("CYBILL:00000000-0000-7000-8000-000000000000"))
            #expect(unknown.status == .notFound)
            // Another company's bill is not found either.
            let bravoFinance = try await api.login("finance@bravo")
            let bravoBill = try await api.call(.get, "/api/v1/bills?limit=1", token: bravoFinance).items.first?["id"] as? String
            if let bravoBill {
                #expect(try await browser.get("/console/houses?q=" + Browser.encode("CYBILL:\(bravoBill)")).status == .notFound)
                #expect(try await browser.get("/console/bills/\(bravoBill)").status == .notFound)
            }
            // The owner's copy of the bill carries the same code.
            var owner = Browser(api: api)
            _ = try await owner.signIn("owner@alpha")
            let ownerToken = try await api.login("owner@alpha")
            let ownHouse = try #require(try await api.call(.get, "/api/v1/me/houses", token: ownerToken).items.first?["id"] as? String)
            if let own = try await api.call(.get, "/api/v1/bills?house_id=\(ownHouse)", token: ownerToken).items.first?["id"] as? String {
                #expect(try await owner.get("/portal/bills/\(own)").text.contains(try QRCodeDrawing.svg(WebRoutes.billReference(own))))
            }
        }
    }

    @Test("the audit log page shows who changed money-relevant data and why, filtered by action; finance's, not an engineer's", arguments: TestEngine.available)
    func auditLog(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let waived = try await api.call(
                .post, "/api/v1/bills/\(s.bill)/late-fee-waiver", token: s.finance, json: ["reason": "owner in hospital during the due period"])
            #expect(waived.status.code < 300, "\(waived.text)")
            var browser = Browser(api: api)
            _ = try await browser.signIn("finance@alpha")
            let page = try await browser.get("/console/audit")
            #expect(page.status == .ok)
            #expect(page.text.contains("owner in hospital during the due period"))
            #expect(page.text.contains("bill \(s.bill)"))
            let filtered = try await browser.get("/console/audit?action=no_such_action")
            #expect(filtered.status == .ok && !filtered.text.contains("owner in hospital"))
            var engineer = Browser(api: api)
            _ = try await engineer.signIn("engineer@alpha")
            #expect(try await engineer.get("/console/audit").status == .forbidden)
        }
    }

    @Test("every form's extreme values answer an HTML page with a 4xx and write nothing; no value stops the server", arguments: TestEngine.available)
    func extremeFormValues(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            var desk = Browser(api: api)
            _ = try await desk.signIn("frontdesk@alpha")
            let shiftPage = try await desk.get("/console/shift")
            let token = try #require(Browser.value(of: "_csrf", in: shiftPage.text))
            _ = try await desk.post("/console/shift", form: ["_csrf": token, "community_id": s.community, "opening_float": "0"])
            var finance = Browser(api: api)
            _ = try await finance.signIn("finance@alpha")
            let financeToken = try #require(Browser.value(of: "_csrf", in: try await finance.get("/console/bill-runs").text))
            var owner = Browser(api: api)
            _ = try await owner.signIn("owner@alpha")
            let ownerToken = try #require(Browser.value(of: "_csrf", in: try await owner.get("/portal").text))
            let ownerApi = try await api.login("owner@alpha")
            let ownHouse = try #require(try await api.call(.get, "/api/v1/me/houses", token: ownerApi).items.first?["id"] as? String)
            let before = try await api.tableCounts()
            let amounts = ["", "-1", "0", "0.001", "1e5", "99999999999999999999", "9223372036854775807", "１２", "\u{0}1", String(repeating: "9", count: 5_000)]
            for amount in amounts {
                let paid = try await desk.post(
                    "/console/houses/\(s.house)/payments", form: ["_csrf": token, "request_id": "x-\(amount.count)", "amount": amount, "channel": "cash"])
                #expect((400..<500).contains(Int(paid.status.code)), "desk amount \(amount.prefix(20)): \(paid.status)")
                #expect(paid.headers[.contentType] == "text/html; charset=utf-8")
                let topUp = try await owner.post("/portal/houses/\(ownHouse)/top-up", form: ["_csrf": ownerToken, "amount": amount, "purpose": "general"])
                #expect((400..<500).contains(Int(topUp.status.code)), "top-up amount \(amount.prefix(20)): \(topUp.status)")
            }
            for period in ["", "9999-12", "0000-01", "2026-00", "2026-13", "20261", "-2026-01", String(repeating: "1", count: 17)] {
                let run = try await finance.post(
                    "/console/bill-runs", form: ["_csrf": financeToken, "community_id": s.community, "period": period, "action": "confirm"])
                #expect((400..<500).contains(Int(run.status.code)) || run.status == .ok, "period \(period): \(run.status)")
                #expect(run.status != .ok || period == "9999-12" || period == "0000-01", "period \(period) is no month: \(run.status)")
            }
            for q in [String(repeating: "3", count: 41), "CYBILL:", "CYBILL:" + String(repeating: "f", count: 36), "\u{7}", "%"] {
                let found = try await desk.get("/console/houses?q=" + Browser.encode(q))
                #expect(Int(found.status.code) < 500, "q \(q.prefix(10)): \(found.status)")
            }
            for cursor in ["garbage", String(repeating: "z", count: 600), "\u{0}"] {
                let audit = try await finance.get("/console/audit?cursor=" + Browser.encode(cursor))
                #expect(Int(audit.status.code) < 500, "cursor \(cursor.prefix(10)): \(audit.status)")
            }
            let form = try await desk.post("/console/shift/close", form: ["_csrf": token, "counted": "99999999999999999999"])
            #expect((400..<500).contains(Int(form.status.code)))
            #expect(try await api.tableCounts() == before, "refused forms wrote nothing")
            #expect(try await desk.get("/console").status == .ok, "the server still answers")
        }
    }
}
