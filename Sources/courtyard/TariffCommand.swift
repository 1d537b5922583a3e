import ArgumentParser
import CourtyardDomain
import CourtyardServer
import Foundation

/// `courtyard tariff …`: price quantities with a rule file, offline.
struct TariffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tariff", abstract: "Tariff tools.", subcommands: [Quote.self])

    struct Quote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Price a usage with a rule (JSON, see docs/TARIFFS.md) and print the quote with every tier and window as JSON.")
        @Option(help: "The rule file (JSON).") var rule: String
        @Option(help: "Metered usage in this period, e.g. 9759.073.") var usage: String?
        @Option(help: "Usage already counted this month/year (tier position).") var position: String?
        @Option(help: "Tier quota multiplier, e.g. 1.5.") var quotaScale: String?
        @Option(help: "Usage of a time-of-use window, as name=quantity (repeat per window).") var window: [String] = []
        @Option(help: "Area in m² for per-m² rules.") var area: String?
        @Option(help: "Months charged (per-m² and fixed rules).") var months: Int64?
        @Option(help: "Duration in seconds for per-duration rules.") var durationSeconds: Int64?

        func run() async throws {
            let url = URL(fileURLWithPath: rule)
            guard let ruleData = FileManager.default.contents(atPath: url.path) else {
                throw CommandFailure(
                    description: "cannot read the rule file \(url.path) (from \(FileManager.default.currentDirectoryPath)); "
                        + "the examples are in docs/tariffs/ of the repository")
            }
            guard let ruleJSON = try? JSONSerialization.jsonObject(with: ruleData) else {
                throw CommandFailure(description: "\(rule) is not JSON; see docs/TARIFFS.md for the rule format")
            }
            var body: [String: Any] = ["rule": ruleJSON]
            if let usage { body["usage"] = usage }
            if let position { body["position"] = position }
            if let quotaScale { body["quota_scale"] = quotaScale }
            if let area { body["area"] = area }
            if let months { body["months"] = months }
            if let durationSeconds { body["duration_seconds"] = durationSeconds }
            if !window.isEmpty {
                var windows: [String: String] = [:]
                for pair in window {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { throw ValidationError("--window takes name=quantity, got \(pair)") }
                    windows[String(parts[0])] = String(parts[1])
                }
                body["window_usage"] = windows
            }
            do {
                let request = try APICoding.decode(TariffRoutes.QuoteRequest.self, from: JSONSerialization.data(withJSONObject: body))
                let quote = try TariffRoutes.quote(request)
                let encoder = APICoding.encoder
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(quote), as: UTF8.self))
            } catch let problem as Problem {
                let issues = problem.errors.map { "  \($0.field): \($0.message)" }.joined(separator: "\n")
                throw CommandFailure(description: "\(problem.title)\(problem.detail.map { ": \($0)" } ?? "")" + (issues.isEmpty ? "" : "\n" + issues))
            }
        }
    }
}
