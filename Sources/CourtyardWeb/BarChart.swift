/// A bar chart drawn on the server as SVG: readable with scripts off, in print, and by a screen reader (each bar carries
/// its label and value as a `<title>`, the chart its caption as `aria-label`).
///
/// Values are exact integers (fen, milli-units); bar heights are whole SVG units computed in 128-bit integers, so a
/// chart never passes through floating point and the tallest bar is exactly the plot's height.
public struct BarChart: Sendable {
    public struct Bar: Sendable, Equatable {
        public var label: String
        public var value: Int64
        /// The value as the page shows it (`12.5 kWh`).
        public var text: String
        /// Drawn in the accent colour (today, the current month).
        public var highlighted: Bool

        public init(label: String, value: Int64, text: String, highlighted: Bool = false) {
            self.label = label
            self.value = value
            self.text = text
            self.highlighted = highlighted
        }
    }

    public var caption: String
    public var bars: [Bar]
    public var width = 640
    public var height = 200

    public init(caption: String, bars: [Bar]) {
        self.caption = caption
        self.bars = bars
    }

    /// Heights of the bars in SVG units over a plot `plotHeight` tall: the largest value fills it, negatives draw as 0.
    public static func heights(_ values: [Int64], plotHeight: Int) -> [Int] {
        let top = values.max().map { max($0, 0) } ?? 0
        guard top > 0 else { return values.map { _ in 0 } }
        return values.map { value in
            let clipped = Int128(max(value, 0))
            return Int((clipped * Int128(plotHeight) + Int128(top) / 2) / Int128(top))
        }
    }

    /// The chart as an inline `<svg>` element.
    public var svg: String {
        let labelBand = 20
        let plotHeight = height - labelBand - 4
        let count = max(bars.count, 1)
        let slot = width / count
        let barWidth = max(slot * 7 / 10, 1)
        let heights = Self.heights(bars.map(\.value), plotHeight: plotHeight)
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(escape(caption))\">"
        out += "<line x1=\"0\" y1=\"\(plotHeight)\" x2=\"\(width)\" y2=\"\(plotHeight)\" class=\"axis\"/>"
        // Every label when they fit, else about twelve of them.
        let labelEvery = max(1, (bars.count + 11) / 12)
        for (index, bar) in bars.enumerated() {
            let x = index * slot + (slot - barWidth) / 2
            let barHeight = heights[index]
            out += "<g><title>\(escape(bar.label)): \(escape(bar.text))</title>"
            out +=
                "<rect x=\"\(x)\" y=\"\(plotHeight - barHeight)\" width=\"\(barWidth)\" height=\"\(barHeight)\" class=\"\(bar.highlighted ? "bar now" : "bar")\"/></g>"
            if index % labelEvery == 0 {
                out += "<text x=\"\(x + barWidth / 2)\" y=\"\(height - 6)\" text-anchor=\"middle\">\(escape(bar.label))</text>"
            }
        }
        return out + "</svg>"
    }

    func escape(_ text: String) -> String { HTML.escape(text) }
}

/// HTML escaping for text a page puts between tags or inside a quoted attribute.
public enum HTML {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
