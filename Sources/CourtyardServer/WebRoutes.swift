import CourtyardDomain
import CourtyardStorage
import CourtyardWeb
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The browser's pages: sign-in, the owner portal (`/portal`) and the staff console (`/console`), rendered on the
/// server. Each page handler reads the form or query, calls the same use cases as the API routes, and renders.
///
/// Every page answers HTML, errors included: a missing session sends the person to sign in and back; a refused
/// permission or a missing record is a page saying so; a form the use case refuses shows why. The pages carry a
/// strict Content-Security-Policy (scripts and styles only from `/static/`) and are never cached.
enum WebRoutes {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"

    static func register(on router: Router<CourtyardRequestContext>, services: ServerServices) {
        let pages: WebPages
        do { pages = try WebPages() } catch { preconditionFailure("a page template does not parse: \(error)") }
        let web = WebRouter(router: router, services: services, pages: pages)

        router.get("/static/app.css") { _, _ in asset(WebAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in asset(WebAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/icon.svg") { _, _ in asset(WebAssets.icon, type: "image/svg+xml") }
        // Pages without a link to the icon (the receipt) still get one where browsers look.
        router.get("/favicon.ico") { _, _ in asset(WebAssets.icon, type: "image/svg+xml") }

        web.page(.get, "/") { page in
            guard let principal = page.context.principal else { return page.redirect("/login") }
            return page.redirect(principal.role == .owner ? "/portal" : "/console")
        }
        web.page(.get, "/language") { page in
            let query = page.request.uri.queryParameters
            let language = query["to"].flatMap { WebLanguage(rawValue: String($0)) } ?? .zhCN
            var response = page.redirect(localPath(query["next"].map(String.init)) ?? "/")
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: WebSession.setCookie(
                        WebSession.languageCookie, language.rawValue, maxAge: 365 * 86_400, secure: WebSession.secure(services))))
            return response
        }
        registerSignIn(web)
        registerPortal(web)
        registerConsole(web)
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `next` when it is a path of this site (`/…` but not `//…`, no backslash), else nil: a sign-in never sends
    /// anyone to another site.
    static func localPath(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), next.utf8.count <= 512,
            !next.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return nil }
        return next
    }

    // MARK: Sign-in

    static func registerSignIn(_ web: WebRouter) {
        let services = web.services
        web.page(.get, "/login") { page in
            if let principal = page.context.principal { return page.redirect(principal.role == .owner ? "/portal" : "/console") }
            return page.loginForm(login: "", next: localPath(page.request.uri.queryParameters["next"].map(String.init)), flash: nil)
        }
        web.page(.post, "/login") { page in
            let form = try await page.form(csrf: false)
            let next = localPath(form["next"])
            guard WebSession.formTokenMatches(form["_csrf"], secret: WebSession.cookie(WebSession.preCookie, in: page.request)) else {
                // The form is older than its cookie (or came from elsewhere): show a fresh one.
                return page.loginForm(login: form.text("login") ?? "", next: next, flash: "session_expired", status: .badRequest)
            }
            guard let login = form.text("login"), let password = form["password"], !password.isEmpty, login.utf8.count <= 128,
                password.utf8.count <= 1_024
            else { return page.loginForm(login: form.text("login") ?? "", next: next, flash: "sign_in_failed", status: .unauthorized) }
            let result: AccountRoutes.SignIn
            do {
                result = try await AccountRoutes.signIn(
                    login: login, password: password, request: page.request, context: page.context, services: services)
            } catch let problem as Problem where problem.code == "invalid_credentials" {
                return page.loginForm(login: login, next: next, flash: "sign_in_failed", status: .unauthorized)
            }
            switch result {
            case .wait(let seconds):
                var response = page.loginForm(login: login, next: next, flash: "too_many_attempts", status: .tooManyRequests)
                response.headers[.retryAfter] = String(seconds)
                return response
            case .signedIn(let token, _, let user):
                var response = page.redirect(next ?? (user.role == .owner ? "/portal" : "/console"))
                let secure = WebSession.secure(services)
                response.headers.append(
                    HTTPField(
                        name: .setCookie,
                        value: WebSession.setCookie(
                            WebSession.cookie, token, maxAge: services.configuration.sessionLifetimeSeconds, secure: secure)))
                response.headers.append(HTTPField(name: .setCookie, value: WebSession.setCookie(WebSession.preCookie, "", maxAge: 0, secure: secure)))
                return response
            }
        }
        web.page(.post, "/logout") { page in
            _ = try await page.form(csrf: true)
            if let hash = page.context.sessionTokenHash {
                try await services.database.transaction { db in try await AccountStore(db).deleteSession(tokenHash: hash) }
                services.sessions.remove(hash)
            }
            var response = page.redirect("/login")
            response.headers.append(
                HTTPField(name: .setCookie, value: WebSession.setCookie(WebSession.cookie, "", maxAge: 0, secure: WebSession.secure(services))))
            return response
        }
    }
}

/// Registers page handlers with the HTML error handling every page shares.
struct WebRouter {
    let router: Router<CourtyardRequestContext>
    let services: ServerServices
    let pages: WebPages

    func page(_ method: HTTPRequest.Method, _ path: RouterPath, _ handler: @escaping @Sendable (WebPage) async throws -> Response) {
        let services = self.services
        let pages = self.pages
        router.on(path, method: method) { request, context in
            let page = WebPage(request: request, context: context, services: services, pages: pages)
            do {
                return try await handler(page)
            } catch let redirect as WebRedirect {
                return page.redirect(redirect.location)
            } catch {
                let problem = ProblemMiddleware.problem(for: error, context: context)
                if problem.status.code >= 500 {
                    context.logger.error("page failed", metadata: ["path": .string(request.uri.path), "error": .string(String(reflecting: error))])
                }
                return page.failure(problem)
            }
        }
    }
}

/// One page request: what a handler needs to read the request and answer with a page.
struct WebPage: Sendable {
    let request: Request
    let context: CourtyardRequestContext
    let services: ServerServices
    let pages: WebPages

    var language: WebLanguage {
        WebLanguage.preferred(
            cookie: WebSession.cookie(WebSession.languageCookie, in: request), acceptLanguage: request.headers[.acceptLanguage])
    }

    var texts: [String: String] { language.texts }

    func text(_ key: String) -> String { texts[key] ?? key }

    /// The page's own path and query (for the language switch and the way back after sign-in).
    var here: String {
        let path = request.uri.path
        return request.uri.query.map { path + "?" + $0 } ?? path
    }

    /// The signed-in person, or a redirect to the sign-in page that comes back here.
    func principal() throws -> Principal {
        guard let principal = context.principal else { throw WebRedirect(location: "/login?next=" + (here.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")) }
        return principal
    }

    /// The chrome of a console or portal page, with the navigation the role may use.
    func chrome(_ area: String) -> PageChrome {
        let principal = context.principal
        var chrome = PageChrome(
            language: language, area: area, user: principal?.user.displayName, home: area == "portal" ? "/portal" : "/console",
            csrf: context.sessionToken.map(WebSession.formToken(for:)) ?? "", here: here)
        let path = request.uri.path
        if let role = principal?.role {
            if role == .owner {
                chrome.link("/portal", "my_houses", path: path)
            } else {
                chrome.link("/console", "dashboard", path: path)
                if role.allows(.readProperty) { chrome.link("/console/houses", "houses", path: path) }
                if role.allows(.takePayments) { chrome.link("/console/shift", "front_desk", path: path) }
                if role.allows(.manageFinance) {
                    chrome.link("/console/bill-runs", "bill_runs", path: path)
                    chrome.link("/console/refunds", "refunds", path: path)
                }
                if role.allows(.readFinance) { chrome.link("/console/audit", "audit_log", path: path) }
                if role.allows(.readDevices) { chrome.link("/console/review", "review_queue", path: path) }
            }
        }
        return chrome
    }

    /// A page as the response, never cached, under the strict policy.
    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = WebRoutes.contentSecurityPolicy
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func render(_ name: String, title: String, area: String, model: PageModel = PageModel(), flash: [(String, String)] = [], status: HTTPResponse.Status = .ok) -> Response {
        var chrome = chrome(area)
        chrome.flash = flash.map { (kind: $0.0, text: $0.1) }
        if let done = request.uri.queryParameters["done"].map(String.init), let message = texts[done] {
            chrome.flash.append((kind: "ok", text: message))
        }
        return html(pages.render(name, title: title, chrome: chrome, model: model), status: status)
    }

    /// 303 See Other: after a form, the browser asks for the next page with GET.
    func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    /// The submitted form; with `csrf`, refused unless it carries this session's form token.
    func form(csrf: Bool) async throws -> WebForm {
        let form = try await WebForm.decode(request, context: context)
        if csrf {
            _ = try principal()
            guard WebSession.formTokenMatches(form["_csrf"], secret: context.sessionToken) else {
                throw Problem(.forbidden, code: "form_expired", title: "This form has expired", detail: "open the page again and resend it")
            }
        }
        return form
    }

    func loginForm(login: String, next: String?, flash: String?, status: HTTPResponse.Status = .ok) -> Response {
        // The sign-in form is bound to a random cookie of this browser (a fresh one when it has none).
        let existing = WebSession.cookie(WebSession.preCookie, in: request)
        let pre = existing ?? SessionTokens.generate()
        var chrome = PageChrome(language: language, area: "public", user: nil, home: "/", csrf: WebSession.formToken(for: pre), here: here)
        if let flash { chrome.flash = [(kind: "error", text: text(flash))] }
        var model = PageModel()
        model["login"] = login
        model["next"] = next ?? ""
        var response = html(pages.render("login", title: "sign_in", chrome: chrome, model: model), status: status)
        if existing == nil {
            response.headers.append(
                HTTPField(name: .setCookie, value: WebSession.setCookie(WebSession.preCookie, pre, maxAge: 3_600, secure: WebSession.secure(services))))
        }
        return response
    }

    /// The page for a refused or failed request: sign in again, not allowed, not found, or what was wrong.
    func failure(_ problem: Problem) -> Response {
        if problem.status == .unauthorized {
            return redirect("/login?next=" + (here.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
        }
        let area = context.principal.map { $0.role == .owner ? "portal" : "console" } ?? "public"
        var model = PageModel()
        switch problem.status {
        case .forbidden where problem.code != "form_expired": model["message"] = text("forbidden")
        case .notFound: model["message"] = text("not_found")
        default:
            // What the use case said, for the person to correct (its title, its detail and the field).
            var message = problem.title
            if let detail = problem.detail { message += ": " + detail }
            model["message"] = message + " " + text("try_again")
        }
        return render("error", title: "error", area: area, model: model, status: problem.status)
    }
}

/// Thrown by a page to send the browser elsewhere (to sign in first).
struct WebRedirect: Error {
    var location: String
}
