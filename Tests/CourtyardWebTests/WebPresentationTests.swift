import CourtyardDomain
import Foundation
import Testing

@testable import CourtyardWeb

@Suite("Web presentation")
struct WebPresentationTests {
    @Test("money reads as people write it, from the exact fen", arguments: [
        (Int64(123_456), "¥1,234.56"), (0, "¥0.00"), (5, "¥0.05"), (-1_200, "-¥12.00"), (100_000_000, "¥1,000,000.00"),
        (Int64.max, "¥92,233,720,368,547,758.07"), (Int64.min, "-¥92,233,720,368,547,758.08"),
    ])
    func money(fen: Int64, text: String) {
        #expect(WebFormat.money(fen) == text)
    }

    @Test("another currency keeps its code")
    func otherCurrency() {
        #expect(WebFormat.money(1_200, currency: Currency(code: "USD")) == "USD 12.00")
    }

    @Test("quantities drop trailing zeros and keep their unit", arguments: [
        (Int64(1_234_500), "kWh", "1,234.5 kWh"), (1_000, "m³", "1 m³"), (0, "kWh", "0 kWh"), (7, "", "0.007"), (-2_500, "kWh", "-2.5 kWh"),
    ])
    func quantity(milli: Int64, unit: String, text: String) {
        #expect(WebFormat.quantity(milli: milli, unit: unit) == text)
    }

    @Test("a share is a percentage to one decimal, rounded half up, and none without a whole")
    func percent() {
        #expect(WebFormat.percent(1, of: 3) == "33.3%")
        #expect(WebFormat.percent(2, of: 3) == "66.7%")
        #expect(WebFormat.percent(1, of: 2_000) == "0.1%", "0.05 % rounds half up to 0.1 %")
        #expect(WebFormat.percent(5, of: 5) == "100.0%")
        #expect(WebFormat.percent(0, of: 0) == nil)
        #expect(WebFormat.percent(Int64.max, of: Int64.max) == "100.0%", "no overflow at the extremes")
    }

    @Test("bar heights are whole units, the largest fills the plot, and nothing overflows")
    func barHeights() {
        #expect(BarChart.heights([0, 50, 100], plotHeight: 100) == [0, 50, 100])
        #expect(BarChart.heights([1, 2, 3], plotHeight: 100) == [33, 67, 100])
        #expect(BarChart.heights([-5, 10], plotHeight: 40) == [0, 40])
        #expect(BarChart.heights([0, 0], plotHeight: 40) == [0, 0])
        #expect(BarChart.heights([], plotHeight: 40) == [])
        #expect(BarChart.heights([Int64.max, Int64.max / 2], plotHeight: 200) == [200, 100])
    }

    @Test("a chart is an SVG image with its caption and each bar's value for screen readers, its text escaped")
    func chartMarkup() {
        let chart = BarChart(caption: "电 <b>", bars: [.init(label: "01", value: 1_500, text: "1.5 kWh"), .init(label: "02", value: 0, text: "0 kWh", highlighted: true)])
        let svg = chart.svg
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.contains("role=\"img\" aria-label=\"电 &lt;b&gt;\""))
        #expect(svg.contains("<title>01: 1.5 kWh</title>"))
        #expect(svg.contains("class=\"bar now\""))
        #expect(!svg.contains("<b>"))
    }

    @Test("both languages have every text, and every text a template uses")
    func textsComplete() {
        let chinese = Set(WebLanguage.zhCN.texts.keys)
        let english = Set(WebLanguage.en.texts.keys)
        #expect(chinese == english, "only in one: \(chinese.symmetricDifference(english).sorted())")
        let used = WebPages.textKeys
        #expect(!used.isEmpty)
        #expect(used.subtracting(chinese).isEmpty, "templates use texts no table has: \(used.subtracting(chinese).sorted())")
    }

    @Test("the language comes from the cookie, else Accept-Language, else Chinese")
    func language() {
        #expect(WebLanguage.preferred(cookie: "en", acceptLanguage: "zh-CN") == .en)
        #expect(WebLanguage.preferred(cookie: nil, acceptLanguage: "en-GB,en;q=0.8") == .en)
        #expect(WebLanguage.preferred(cookie: "fr", acceptLanguage: "de-DE, zh-TW;q=0.5") == .zhCN)
        #expect(WebLanguage.preferred(cookie: nil, acceptLanguage: nil) == .zhCN)
    }

    @Test("every page renders; what people typed is escaped; no page carries an inline script or style")
    func pagesRender() throws {
        let pages = try WebPages()
        for name in WebPages.names where name != "head" && name != "foot" {
            var chrome = PageChrome(language: .zhCN, area: "console", user: "<script>x</script>", home: "/console", csrf: "t0k", here: "/console")
            chrome.link("/console", "dashboard", path: "/console")
            var model = PageModel()
            model["login"] = "\"><img src=x onerror=alert(1)>"
            model["q"] = "<b>"
            let html = pages.render(name, title: "dashboard", chrome: chrome, model: model)
            #expect(html.hasPrefix("<!doctype html>"), "\(name)")
            #expect(html.contains("</html>"), "\(name)")
            #expect(!html.contains("<script>x"), "\(name): the user's name is escaped")
            #expect(!html.contains("<img src=x"), "\(name)")
            #expect(!html.contains("<style") && !html.contains(" style=") && !html.contains("onclick="), "\(name)")
            #expect(html.components(separatedBy: "<script").count - 1 == 1, "\(name): only the one external script")
            #expect(html.contains("<html lang=\"zh-CN\">"), "\(name)")
        }
    }

    @Test("a list says whether it has anything, for the sections that show a table only then")
    func listFlags() {
        var model = PageModel()
        model["bills"] = [[String: Any]]()
        model["payments"] = [["id": "1"]]
        #expect(model["hasBills"] as? Bool == false)
        #expect(model["hasPayments"] as? Bool == true)
    }

    @Test("thousands separators", arguments: [("0", "0"), ("999", "999"), ("1000", "1,000"), ("1234567.89", "1,234,567.89")])
    func grouping(plain: String, grouped: String) {
        #expect(WebFormat.grouped(plain) == grouped)
    }
}
