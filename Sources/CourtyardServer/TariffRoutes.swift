import CourtyardDomain
import Foundation
import Hummingbird

/// Tariff preview: price a quantity with a rule, with the per-tier (per-window) breakdown.
public enum TariffRoutes {
    /// What `POST /api/v1/tariffs/quote` takes.
    public struct QuoteRequest: Codable, Sendable {
        public var rule: PricingRule
        public var usage: Quantity?
        public var position: Quantity?
        /// Multiplier for tier bounds, e.g. "1.5" (at most 3 decimals).
        public var quotaScale: String?
        public var windowUsage: [String: Quantity]?
        public var area: Area?
        public var months: Int64?
        public var durationSeconds: Int64?

        /// The engine's input, or a problem naming the field.
        public func input() throws(Problem) -> QuoteInput {
            var scale: Int64 = 1000
            if let text = quotaScale {
                guard let value = try? FixedPoint.parse(text, scale: 3), value > 0 else {
                    throw Problem.invalid("quota_scale", code: "invalid_value", "quota_scale must be a positive number with at most 3 decimals")
                }
                scale = value
            }
            return QuoteInput(
                usage: usage, position: position ?? .zero, quotaScaleThousandths: scale, windowUsage: windowUsage,
                area: area, months: months ?? 1, durationSeconds: durationSeconds)
        }
    }

    /// Prices a request, mapping engine errors to problems that name the field.
    public static func quote(_ request: QuoteRequest) throws(Problem) -> Quote {
        do {
            return try Tariff.quote(request.rule, try request.input())
        } catch let error as TariffError {
            throw problem(error)
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem(.internalServerError, code: "internal_error", title: "Something went wrong on our side")
        }
    }

    static func problem(_ error: TariffError) -> Problem {
        switch error {
        case .invalidRule(let issues):
            return .validation(issues.map { FieldIssue(field: "rule." + $0.path, code: $0.code, message: $0.message) })
        case .missingInput(let field):
            return .invalid(field, code: "required", "\(field) is required for this rule")
        case .invalidInput(let field, let message):
            return .invalid(field, code: "invalid_value", message)
        case .overflow:
            return Problem(.unprocessableContent, code: "amount_overflow", title: "The amount does not fit")
        }
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let rule = PricingRule(
            kind: .metered, unit: "kWh", mode: .graduated, accumulation: .annual,
            tiers: [
                .init(upTo: Quantity(milliUnits: 2_760_000), price: UnitPrice(tenThousandths: 5380)),
                .init(upTo: Quantity(milliUnits: 4_800_000), price: UnitPrice(tenThousandths: 5880)),
                .init(upTo: nil, price: UnitPrice(tenThousandths: 8380)),
            ])
        let example = QuoteRequest(
            rule: rule, usage: Quantity(milliUnits: 3_000_000), position: .zero, quotaScale: nil,
            windowUsage: nil, area: nil, months: nil, durationSeconds: nil)
        api.schema("QuoteRequest", example: example, required: ["rule"])
        if let quote = try? Tariff.quote(rule, QuoteInput(usage: Quantity(milliUnits: 3_000_000))) {
            api.schema("Quote", example: quote)
        }
        api.on(
            .post, "/api/v1/tariffs/quote", summary: "Price a usage (or area, or duration) with a pricing rule; shows every tier and window",
            tag: "Tariffs", permission: .readProperty, request: "QuoteRequest", response: "Quote"
        ) { request, context in
            _ = try context.require(.readProperty)
            let body = try await ResourceRoutes.decodeBody(QuoteRequest.self, request, context)
            return try .json(try quote(body))
        }
    }
}
