extension PricingRule {
    /// Every reason this rule cannot price, or an empty list. Run when a rule is saved or quoted.
    public func validate() -> [RuleIssue] {
        var issues: [RuleIssue] = []
        func issue(_ path: String, _ code: String, _ message: String) { issues.append(RuleIssue(path: path, code: code, message: message)) }
        switch kind {
        case .fixed:
            guard let amount else { issue("amount", "required", "a fixed rule needs amount"); break }
            if amount.minorUnits < 0 { issue("amount", "must_not_be_negative", "amount must not be negative") }
        case .perArea:
            guard let price = pricePerSquareMetre else {
                issue("price_per_square_metre", "required", "a per_area rule needs price_per_square_metre"); break
            }
            if price.tenThousandths < 0 { issue("price_per_square_metre", "must_not_be_negative", "price must not be negative") }
        case .metered:
            guard let tiers, !tiers.isEmpty else { issue("tiers", "required", "a metered rule needs at least one tier"); break }
            if mode == nil { issue("mode", "required", "mode must be graduated or volume") }
            if accumulation == nil { issue("accumulation", "required", "accumulation must be monthly or annual") }
            var previous: Quantity? = nil
            for (index, tier) in tiers.enumerated() {
                if tier.price.tenThousandths < 0 { issue("tiers.\(index).price", "must_not_be_negative", "prices must not be negative") }
                let last = index == tiers.count - 1
                if last {
                    if tier.upTo != nil { issue("tiers.\(index).up_to", "last_tier_bounded", "the last tier must have no up_to") }
                } else if let bound = tier.upTo {
                    if bound.milliUnits <= 0 { issue("tiers.\(index).up_to", "must_be_positive", "up_to must be greater than 0") }
                    if let previous, bound <= previous {
                        issue("tiers.\(index).up_to", "tiers_not_ascending", "tier bounds must ascend")
                    }
                    previous = bound
                } else {
                    issue("tiers.\(index).up_to", "required", "every tier but the last needs up_to")
                }
            }
            if let windows { issues += validate(windows: windows, tierCount: tiers.count) }
            if let minimum = minimumCharge, minimum.minorUnits < 0 {
                issue("minimum_charge", "must_not_be_negative", "minimum_charge must not be negative")
            }
        case .perDuration:
            guard let duration else { issue("duration", "required", "a per_duration rule needs duration"); break }
            if duration.freeMinutes < 0 { issue("duration.free_minutes", "must_not_be_negative", "free_minutes must be 0 or more") }
            if duration.firstMinutes <= 0 { issue("duration.first_minutes", "must_be_positive", "first_minutes must be more than 0") }
            if duration.everyMinutes <= 0 { issue("duration.every_minutes", "must_be_positive", "every_minutes must be more than 0") }
            for (path, money) in [("duration.first_price", duration.firstPrice), ("duration.every_price", duration.everyPrice)]
            where money.minorUnits < 0 {
                issue(path, "must_not_be_negative", "prices must not be negative")
            }
            if let cap = duration.dailyCap, cap.minorUnits <= 0 { issue("duration.daily_cap", "must_be_positive", "daily_cap must be more than 0") }
        }
        return issues
    }

    /// Windows must each have one price per tier and together cover the day exactly once.
    func validate(windows: [Window], tierCount: Int) -> [RuleIssue] {
        var issues: [RuleIssue] = []
        var covered = [Int](repeating: 0, count: 1440)
        var names = Set<String>()
        for (index, window) in windows.enumerated() {
            if window.name.isEmpty || !names.insert(window.name).inserted {
                issues.append(RuleIssue(path: "windows.\(index).name", code: "invalid_value", message: "window names must be unique and non-empty"))
            }
            if window.prices.count != tierCount {
                issues.append(
                    RuleIssue(
                        path: "windows.\(index).prices", code: "price_count",
                        message: "a window needs one price per tier (\(tierCount))"))
            }
            if window.prices.contains(where: { $0.tenThousandths < 0 }) {
                issues.append(RuleIssue(path: "windows.\(index).prices", code: "must_not_be_negative", message: "prices must not be negative"))
            }
            guard let start = Self.minuteOfDay(window.start), let end = Self.minuteOfDay(window.end), start != end else {
                issues.append(RuleIssue(path: "windows.\(index)", code: "invalid_time", message: "start and end must be different HH:MM times"))
                continue
            }
            var minute = start
            while minute != end {
                covered[minute] += 1
                minute = (minute + 1) % 1440
            }
        }
        if issues.isEmpty, covered.contains(where: { $0 != 1 }) {
            let gap = covered.firstIndex(of: 0)
            let overlap = covered.firstIndex(where: { $0 > 1 })
            let detail = overlap.map { "windows overlap at \(Self.clock($0))" } ?? gap.map { "no window covers \(Self.clock($0))" } ?? ""
            issues.append(RuleIssue(path: "windows", code: "windows_do_not_cover_day", message: "windows must cover 24 h exactly once: \(detail)"))
        }
        return issues
    }

    /// Minutes after midnight of "HH:MM" (00:00–23:59; "24:00" means midnight at the end).
    static func minuteOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0...59).contains(m), h < 24 || m == 0
        else { return nil }
        return (h * 60 + m) % 1440
    }

    static func clock(_ minute: Int) -> String {
        let h = minute / 60, m = minute % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }
}
