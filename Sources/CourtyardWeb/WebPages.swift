import Foundation
import Mustache

/// What every page shows around its body: who is signed in, the navigation, the language, the CSRF token for forms.
public struct PageChrome: Sendable {
    public struct NavItem: Sendable {
        public var href: String
        public var label: String
        public var current: Bool
    }

    public var language: WebLanguage
    /// `console`, `portal` or `public` (the sign-in and error pages).
    public var area: String
    /// The signed-in person's display name; nil on the sign-in page.
    public var user: String?
    public var home: String
    /// The token every form of this session carries (`_csrf`).
    public var csrf: String
    /// The page's own path and query, where the language switch comes back to.
    public var here: String
    public var nav: [NavItem] = []
    public var flash: [(kind: String, text: String)] = []

    public init(language: WebLanguage, area: String, user: String?, home: String, csrf: String, here: String) {
        self.language = language
        self.area = area
        self.user = user
        self.home = home
        self.csrf = csrf
        self.here = here
    }

    /// Adds a navigation entry (labels are text keys), marked current when `path` starts with it.
    public mutating func link(_ href: String, _ key: String, path: String) {
        let current = path == href || (href != "/console" && href != "/portal" && path.hasPrefix(href))
        nav.append(NavItem(href: href, label: language.texts[key] ?? key, current: current))
    }
}

/// A page's values for its template: a dictionary that also says, for every list it holds, whether the list has
/// anything (`hasBills` for `bills`), since a Mustache section cannot ask that of a list without entering it.
public struct PageModel {
    public private(set) var values: [String: Any] = [:]

    public init() {}

    public subscript(key: String) -> Any? {
        get { values[key] }
        set {
            values[key] = newValue
            if let list = newValue as? [Any] {
                values["has" + key.prefix(1).uppercased() + key.dropFirst()] = !list.isEmpty
            }
        }
    }
}

/// Renders pages from ``WebTemplates``.
public struct WebPages: Sendable {
    let library: MustacheLibrary

    /// Parses every template; a template that does not parse is a programming error a test catches, so this throws.
    public init() throws {
        var templates: [String: MustacheTemplate] = [:]
        for (name, text) in WebTemplates.all { templates[name] = try MustacheTemplate(string: text) }
        self.library = MustacheLibrary(templates: templates)
    }

    /// The names of the pages there are.
    public static var names: [String] { WebTemplates.all.keys.sorted() }

    /// The page `name` with `title` (a text key or plain text) around `model`.
    public func render(_ name: String, title: String, chrome: PageChrome, model: PageModel = PageModel()) -> String {
        let texts = chrome.language.texts
        var values = model.values
        values["t"] = texts
        values["lang"] = chrome.language.rawValue
        values["title"] = texts[title] ?? title
        values["chromeArea"] = chrome.area
        values["areaName"] = chrome.area == "public" ? nil : texts[chrome.area]
        values["home"] = chrome.home
        values["csrf"] = chrome.csrf
        values["here"] = chrome.here
        values["user"] = chrome.user
        values["nav"] = chrome.nav.map { ["href": $0.href, "label": $0.label, "current": $0.current] as [String: Any] }
        values["flash"] = chrome.flash.map {
            ["kind": $0.kind, "text": $0.text, "role": $0.kind == "error" ? "alert" : "status"] as [String: Any]
        }
        return library.render(values, withTemplate: name) ?? ""
    }

    /// Every `{{t.key}}` the templates use, for the test that both languages have them.
    public static var textKeys: Set<String> {
        var keys: Set<String> = []
        for text in WebTemplates.all.values {
            var rest = Substring(text)
            while let range = rest.range(of: "{{t.") {
                rest = rest[range.upperBound...]
                if let end = rest.firstIndex(of: "}") { keys.insert(String(rest[..<end])) }
            }
        }
        return keys
    }
}
