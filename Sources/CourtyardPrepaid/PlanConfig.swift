import CourtyardDomain
import Foundation

/// What a prepaid plan says: which wallets pay for a meter and in which order, the tariff, the thresholds, emergency
/// credit, friendly-credit windows and what may cut supply. Stored as JSON on the plan; validated when saved.
public struct PlanConfig: Codable, Sendable, Hashable {
    /// A wallet that pays, by purpose; `houseId` defaults to the plan's house (a landlord's house may pay for a tenant's).
    public struct WalletRef: Codable, Sendable, Hashable {
        public var purpose: String
        public var houseId: String?
        public init(purpose: String, houseId: String? = nil) {
            self.purpose = purpose
            self.houseId = houseId
        }
    }

    /// Water leak detection: night-time minimum hourly flow above `minimumNightFlow` for `nights` nights in a row.
    public struct LeakRule: Codable, Sendable, Hashable {
        public var minimumNightFlow: Quantity
        public var nights: Int
        public init(minimumNightFlow: Quantity, nights: Int) {
            self.minimumNightFlow = minimumNightFlow
            self.nights = nights
        }
    }

    /// Wallets in the order they pay.
    public var wallets: [WalletRef]
    /// A metered pricing rule (tiers, accumulation, time-of-use windows); its minimum charge does not apply to prepaid.
    public var tariff: PricingRule
    /// Warn the owner when the available balance falls to this amount.
    public var warnBelow: Money?
    /// Warn the owner when the balance lasts fewer days than this at the last 7 days' pace.
    public var warnDaysLeft: Int?
    /// How far below zero usage may go before supply is cut (repaid from the next top-up).
    public var emergencyCredit: Money
    /// Times when a cut-off waits: it is deferred to the end of the window.
    public var friendlyWindows: [FriendlyWindow]
    /// What may cut this supply: `prepaid_balance` and/or `safety`. Property-fee arrears never may (Civil Code art. 944).
    public var cutoffTriggers: [String]
    /// A meter reachable only right after it reports (NB-IoT): commands wait for its next uplink.
    public var sleepy: Bool
    /// Water meters: when to raise a leak alert (never a cut-off).
    public var leakDetection: LeakRule?
    /// How long a command may wait for its device before it expires.
    public var commandExpirySeconds: Int
    /// Sends of one command before it fails.
    public var maxAttempts: Int
    /// The IoT-platform integration that takes this meter's commands by HTTP callback (its `command_url`), if any.
    public var commandIntegration: String?

    public init(
        wallets: [WalletRef], tariff: PricingRule, warnBelow: Money? = nil, warnDaysLeft: Int? = nil,
        emergencyCredit: Money = .zero(), friendlyWindows: [FriendlyWindow] = [], cutoffTriggers: [String] = ["prepaid_balance", "safety"],
        sleepy: Bool = false, leakDetection: LeakRule? = nil, commandExpirySeconds: Int = 86_400, maxAttempts: Int = 5
    ) {
        self.wallets = wallets
        self.tariff = tariff
        self.warnBelow = warnBelow
        self.warnDaysLeft = warnDaysLeft
        self.emergencyCredit = emergencyCredit
        self.friendlyWindows = friendlyWindows
        self.cutoffTriggers = cutoffTriggers
        self.sleepy = sleepy
        self.leakDetection = leakDetection
        self.commandExpirySeconds = commandExpirySeconds
        self.maxAttempts = maxAttempts
    }

    enum CodingKeys: String, CodingKey {
        case wallets, tariff, warnBelow, warnDaysLeft, emergencyCredit, friendlyWindows, cutoffTriggers, sleepy, leakDetection
        case commandExpirySeconds, maxAttempts, commandIntegration
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        wallets = try c.decode([WalletRef].self, forKey: .wallets)
        tariff = try c.decode(PricingRule.self, forKey: .tariff)
        warnBelow = try c.decodeIfPresent(Money.self, forKey: .warnBelow)
        warnDaysLeft = try c.decodeIfPresent(Int.self, forKey: .warnDaysLeft)
        emergencyCredit = try c.decodeIfPresent(Money.self, forKey: .emergencyCredit) ?? .zero()
        friendlyWindows = try c.decodeIfPresent([FriendlyWindow].self, forKey: .friendlyWindows) ?? []
        cutoffTriggers = try c.decodeIfPresent([String].self, forKey: .cutoffTriggers) ?? ["prepaid_balance", "safety"]
        sleepy = try c.decodeIfPresent(Bool.self, forKey: .sleepy) ?? false
        leakDetection = try c.decodeIfPresent(LeakRule.self, forKey: .leakDetection)
        commandExpirySeconds = try c.decodeIfPresent(Int.self, forKey: .commandExpirySeconds) ?? 86_400
        maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 5
        commandIntegration = try c.decodeIfPresent(String.self, forKey: .commandIntegration)
    }

    /// The triggers a plan may name. `property_fee_arrears` is named only to be refused with its own code.
    public static let lawfulTriggers: Set<String> = ["prepaid_balance", "safety"]
    /// Wallet purposes that may pay for `utility`: its own and the general wallet.
    public static func payingPurposes(for utility: String) -> Set<String> { [utility, "general"] }

    /// One problem with a plan, naming the field at fault and a stable code.
    public struct Issue: Hashable, Sendable {
        public var field: String
        public var code: String
        public var message: String
        public init(field: String, code: String, message: String) {
            self.field = field
            self.code = code
            self.message = message
        }
    }

    /// Everything wrong with the plan for a meter of `utility`; empty when it can be saved.
    public func validate(utility: String) -> [Issue] {
        var issues: [Issue] = []
        for (index, trigger) in cutoffTriggers.enumerated() where !Self.lawfulTriggers.contains(trigger) {
            if trigger == "property_fee_arrears" || trigger.contains("arrears") || trigger.contains("property_fee") {
                issues.append(
                    Issue(
                        field: "cutoff_triggers[\(index)]", code: "unlawful_cutoff_trigger",
                        message: "property-fee arrears may never cut water, electricity, gas or heat (PRC Civil Code art. 944); use reminders instead"
                    ))
            } else {
                issues.append(
                    Issue(
                        field: "cutoff_triggers[\(index)]", code: "invalid_value",
                        message: "a cut-off trigger is prepaid_balance or safety"))
            }
        }
        if wallets.isEmpty { issues.append(Issue(field: "wallets", code: "required", message: "name at least one wallet")) }
        var seen: Set<WalletRef> = []
        for (index, wallet) in wallets.enumerated() {
            if wallet.purpose == "property_fee" {
                issues.append(
                    Issue(
                        field: "wallets[\(index)].purpose", code: "unlawful_wallet",
                        message: "the property-fee wallet does not pay for utilities, and its arrears may not cut supply"))
            } else if !Self.payingPurposes(for: utility).contains(wallet.purpose) {
                issues.append(
                    Issue(
                        field: "wallets[\(index)].purpose", code: "wallet_purpose_mismatch",
                        message: "a \(utility) plan is paid from the \(utility) or general wallet"))
            }
            if !seen.insert(wallet).inserted {
                issues.append(Issue(field: "wallets[\(index)]", code: "duplicate", message: "each wallet is named once"))
            }
        }
        if tariff.kind != .metered {
            issues.append(Issue(field: "tariff.kind", code: "invalid_value", message: "a prepaid tariff is metered"))
        } else {
            for issue in tariff.validate() {
                issues.append(Issue(field: "tariff." + issue.path, code: issue.code, message: issue.message))
            }
        }
        if let warnBelow, warnBelow.minorUnits < 0 {
            issues.append(Issue(field: "warn_below", code: "out_of_range", message: "the warning amount must not be negative"))
        }
        if let warnDaysLeft, !(1...365).contains(warnDaysLeft) {
            issues.append(Issue(field: "warn_days_left", code: "out_of_range", message: "days left is 1 to 365"))
        }
        if emergencyCredit.minorUnits < 0 || emergencyCredit.minorUnits > 100_000_00 {
            issues.append(Issue(field: "emergency_credit", code: "out_of_range", message: "emergency credit is 0 to 100000.00"))
        }
        issues.append(contentsOf: FriendlyWindow.validate(friendlyWindows))
        if let leakDetection {
            if utility != "water" {
                issues.append(Issue(field: "leak_detection", code: "invalid_value", message: "leak detection by night flow is for water meters"))
            }
            if leakDetection.minimumNightFlow.milliUnits <= 0 {
                issues.append(
                    Issue(field: "leak_detection.minimum_night_flow", code: "out_of_range", message: "the night flow threshold must be positive"))
            }
            if !(1...30).contains(leakDetection.nights) {
                issues.append(Issue(field: "leak_detection.nights", code: "out_of_range", message: "nights is 1 to 30"))
            }
        }
        if !(60...(30 * 86_400)).contains(commandExpirySeconds) {
            issues.append(Issue(field: "command_expiry_seconds", code: "out_of_range", message: "a command expires after 60 s to 30 days"))
        }
        if !(1...20).contains(maxAttempts) {
            issues.append(Issue(field: "max_attempts", code: "out_of_range", message: "max_attempts is 1 to 20"))
        }
        return issues
    }

    /// The tariff as rated per reading: no minimum charge (a minimum belongs to a billing period, not a reading).
    public var ratingRule: PricingRule {
        var rule = tariff
        rule.minimumCharge = nil
        return rule
    }
}
