import CourtyardDevices
import CourtyardDomain
import CourtyardPrepaid
import Foundation
import Testing

/// Desired supply from money, time and people, and the plan rules that make an unlawful configuration impossible.
@Suite("Supply policy")
struct SupplyPolicyTests {
    static let shanghai = LocalClock(zone: TimeZone(identifier: "Asia/Shanghai")!)
    /// Friday 2026-11-06 23:00 in Shanghai.
    static let fridayNight = shanghai.instant(day: 20_763, minute: 23 * 60)

    static func inputs(
        available: Int64, emergency: Int64 = 0, now: Int64 = fridayNight, windows: [FriendlyWindow] = [],
        holidays: Set<LocalDate> = [], overrides: [SupplyOverride] = [], lock: String? = nil,
        triggers: Set<String> = ["prepaid_balance", "safety"]
    ) -> SupplyPolicy.Inputs {
        .init(
            available: available, emergencyCredit: emergency, now: now,
            calendar: FriendlyCalendar(windows: windows, holidays: holidays, clock: shanghai), overrides: overrides,
            safetyLock: lock, triggers: triggers)
    }

    @Test("money left keeps supply open; zero closes; emergency credit lets it run below zero until used up")
    func money() {
        #expect(LocalClock.date(day: 20_763).description == "2026-11-06")
        #expect(SupplyPolicy.decide(Self.inputs(available: 1)).desired == .open)
        #expect(SupplyPolicy.decide(Self.inputs(available: 0)).desired == .closed)
        #expect(SupplyPolicy.decide(Self.inputs(available: -499, emergency: 500)).desired == .open)
        #expect(SupplyPolicy.decide(Self.inputs(available: -500, emergency: 500)).reason == "balance_exhausted")
    }

    @Test("friendly windows chain: Friday night into the weekend defers the cut-off to Monday 08:00")
    func windows() {
        let windows: [FriendlyWindow] = [.daily(start: 22 * 60, end: 8 * 60), .weekly(days: [6, 7])]
        let decision = SupplyPolicy.decide(Self.inputs(available: -10, windows: windows))
        #expect(decision.desired == .open && decision.reason == "friendly_window")
        #expect(decision.cutoffDueAt == Self.shanghai.instant(day: 20_766, minute: 8 * 60))
        // A public holiday on Monday pushes it to Tuesday 08:00.
        let holiday = SupplyPolicy.decide(
            Self.inputs(
                available: -10, windows: windows + [.publicHolidays],
                holidays: [LocalClock.date(day: 20_766)]))
        #expect(holiday.cutoffDueAt == Self.shanghai.instant(day: 20_767, minute: 8 * 60))
        // Outside every window the cut-off is now.
        let noon = Self.shanghai.instant(day: 20_763, minute: 12 * 60)
        #expect(SupplyPolicy.decide(Self.inputs(available: -10, now: noon, windows: windows)).desired == .closed)
    }

    @Test("safety closes with money left; an engineer hold holds; an exemption keeps supply at zero; expired ones do not count")
    func overridesAndSafety() {
        #expect(SupplyPolicy.decide(Self.inputs(available: 10_000, lock: "gas_leak")).reason == "safety:gas_leak")
        let hold = SupplyOverride(id: "h", kind: .engineerHold, holdState: .closed, reason: "inspection", expiresAt: Self.fridayNight + 1)
        #expect(SupplyPolicy.decide(Self.inputs(available: 10_000, overrides: [hold])).desired == .closed)
        let exemption = SupplyOverride(id: "e", kind: .exemption, holdState: nil, reason: "oxygen", expiresAt: Self.fridayNight + 1)
        #expect(SupplyPolicy.decide(Self.inputs(available: -10, overrides: [exemption])).reason == "exemption")
        let expired = SupplyOverride(id: "e", kind: .exemption, holdState: nil, reason: "oxygen", expiresAt: Self.fridayNight)
        #expect(SupplyPolicy.decide(Self.inputs(available: -10, overrides: [expired])).desired == .closed)
        // Without the prepaid_balance trigger, money never cuts.
        #expect(SupplyPolicy.decide(Self.inputs(available: -10, triggers: ["safety"])).desired == .open)
    }

    @Test("plans refuse property-fee arrears as a cut-off trigger, the property-fee wallet, and overlapping windows")
    func planRules() {
        let rule = PricingRule(
            kind: .metered, mode: .graduated, accumulation: .monthly, tiers: [.init(upTo: nil, price: UnitPrice(tenThousandths: 10_000))])
        var config = PlanConfig(wallets: [.init(purpose: "electricity")], tariff: rule)
        #expect(config.validate(utility: "electricity").isEmpty)
        config.cutoffTriggers = ["property_fee_arrears"]
        #expect(config.validate(utility: "electricity").map(\.code) == ["unlawful_cutoff_trigger"])
        config.cutoffTriggers = ["prepaid_balance"]
        config.wallets = [.init(purpose: "property_fee")]
        #expect(config.validate(utility: "electricity").map(\.code) == ["unlawful_wallet"])
        config.wallets = [.init(purpose: "general"), .init(purpose: "general")]
        #expect(config.validate(utility: "water").map(\.code) == ["duplicate"])
        config.wallets = [.init(purpose: "water")]
        config.friendlyWindows = [.daily(start: 20 * 60, end: 23 * 60), .daily(start: 22 * 60, end: 23 * 60 + 30)]
        #expect(config.validate(utility: "water").map(\.field) == ["friendly_windows[1]"])
        config.friendlyWindows = [.daily(start: 22 * 60, end: 6 * 60), .daily(start: 6 * 60, end: 8 * 60)]
        #expect(config.validate(utility: "water").isEmpty)
    }
}
