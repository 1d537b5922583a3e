import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Usage per hour or per day for one device and register, in the community's local time.
///
/// Each accepted reading's usage covers (previous reading, this reading]. Usage whose interval lies inside one
/// bucket lands there exactly; usage spanning several buckets (a gap in the readings, a meter that reports daily
/// asked for hours) is split over them in proportion to time, in whole milli-units by largest remainder, and those
/// buckets are flagged `estimated`. Interval usage (`{"usage", "time"}`) lands in the bucket of its time.
public enum UsageSeries {
    public enum Granularity: String, Sendable, CaseIterable {
        case hour, day
    }

    public struct Bucket: Codable, Hashable, Sendable {
        /// The bucket's start, local time `YYYY-MM-DDTHH:00` (hours) or `YYYY-MM-DD` (days).
        public var start: String
        public var startsAt: Date
        /// Usage in the bucket, decimal text.
        public var usage: String
        public var estimated: Bool
        /// The usage in milli-units (not encoded).
        public var milli: Int64

        public init(start: String, startsAt: Date, usage: String, estimated: Bool, milli: Int64) {
            self.start = start
            self.startsAt = startsAt
            self.usage = usage
            self.estimated = estimated
            self.milli = milli
        }

        enum CodingKeys: String, CodingKey { case start, startsAt, usage, estimated }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            start = try container.decode(String.self, forKey: .start)
            startsAt = try container.decode(Date.self, forKey: .startsAt)
            usage = try container.decode(String.self, forKey: .usage)
            estimated = try container.decode(Bool.self, forKey: .estimated)
            milli = (try? FixedPoint.parse(usage, scale: 3)) ?? 0
        }
    }

    /// The buckets from `from` (inclusive) to `to` (exclusive), which are rounded out to whole buckets.
    public static func query(
        _ db: any SQLDatabase, companyId: String, device: KnownDevice, register: String,
        from: Int64, to: Int64, granularity: Granularity
    ) async throws -> [Bucket] {
        let zone = device.timeZone
        let size: Int64 = granularity == .hour ? 3_600_000 : 86_400_000
        // Buckets are aligned to local midnight / local hour (offsets are whole hours in the zones Courtyard serves).
        func bucketStart(_ instant: Int64) -> Int64 {
            let offset = CivilTime.offset(at: instant, in: zone) * 1000
            let local = instant + offset
            let floored = local - ((local % size) + size) % size
            return floored - offset
        }
        let first = bucketStart(from)
        var starts: [Int64] = []
        var cursor = first
        while cursor < to, starts.count < 24 * 400 {
            starts.append(cursor)
            cursor = bucketStart(cursor + size + 3_600_000 * 2)  // next bucket start, robust to a DST hour
            if granularity == .hour { cursor = starts.last! + size }
        }
        guard let lastStart = starts.last else { return [] }
        let end = granularity == .hour ? lastStart + size : bucketStart(lastStart + size + 7_200_000)
        var milli = [Int64](repeating: 0, count: starts.count)
        var estimated = [Bool](repeating: false, count: starts.count)
        func index(of instant: Int64) -> Int? {
            // Buckets are sorted; binary search for the last start ≤ instant.
            var low = 0, high = starts.count - 1
            guard instant >= starts[0], instant < end else { return nil }
            while low < high {
                let mid = (low + high + 1) / 2
                if starts[mid] <= instant { low = mid } else { high = mid - 1 }
            }
            return low
        }
        let rows = try await TenantSQL(db, scope: TenantScope(companyId: companyId)).select(
            "measured_at, since, usage_milli", from: "readings_all",
            where: """
                device_id = \(bind: device.id) AND register = \(bind: register)
                AND usage_milli IS NOT NULL AND measured_at > \(bind: first) AND (since IS NULL OR since < \(bind: end))
                """, then: "ORDER BY measured_at"
        ).all()
        for row in rows {
            let reader = RowReader(row, table: "meter_readings")
            let measuredAt = try reader.int64("measured_at")
            let usage = try reader.int64("usage_milli")
            guard let since = try reader.optionalInt64("since") else {
                if let at = index(of: measuredAt) { milli[at] += usage }
                continue
            }
            // The interval (since, measuredAt] against each bucket it touches.
            let span = measuredAt - since
            guard span > 0 else { continue }
            var overlaps: [(Int, Int64)] = []
            var position = since
            while position < measuredAt {
                let bucket = bucketStart(position)
                let next = granularity == .hour ? bucket + size : bucketStart(bucket + size + 7_200_000)
                let overlap = min(next, measuredAt) - position
                if let at = index(of: position) { overlaps.append((at, overlap)) }
                position = next
                if overlaps.count > starts.count + 2 { break }
            }
            let whole = overlaps.count == 1 && since >= bucketStart(measuredAt - 1)
            if whole, let only = overlaps.first {
                milli[only.0] += usage
                continue
            }
            // Largest remainder over the whole interval, so the parts in range are exactly what they would be in a longer query.
            let weights = overlaps.map(\.1)
            let shares = Self.split(usage, weights: weights, total: span)
            for ((at, _), share) in zip(overlaps, shares) {
                milli[at] += share
                estimated[at] = true
            }
        }
        return starts.enumerated().map { offset, start in
            let local = start + CivilTime.offset(at: start, in: zone) * 1000
            let text = Self.localText(local, granularity)
            return Bucket(
                start: text, startsAt: Date(timeIntervalSince1970: TimeInterval(start) / 1000),
                usage: FixedPoint.format(milli[offset], scale: 3), estimated: estimated[offset], milli: milli[offset])
        }
    }

    /// Shares of `amount` for parts of an interval of `total` ms with the given overlaps; parts outside the query get
    /// nothing here, and the shares of the parts inside are floors plus the largest remainders of the whole interval.
    static func split(_ amount: Int64, weights: [Int64], total: Int64) -> [Int64] {
        guard total > 0 else { return weights.map { _ in 0 } }
        var shares: [Int64] = []
        var remainders: [(Int, Int64)] = []
        var given: Int64 = 0
        for (index, weight) in weights.enumerated() {
            let product = Int128(amount) * Int128(weight)
            let share = Int64(product / Int128(total))
            shares.append(share)
            remainders.append((index, Int64(product % Int128(total))))
            given += share
        }
        // The fen-like leftovers of the parts inside the query: as many as the inside's exact total rounds to.
        let insideExact = Int128(amount) * Int128(weights.reduce(0, +))
        let insideTotal = Int64((insideExact + Int128(total) / 2) / Int128(total))
        var leftover = max(0, insideTotal - given)
        for (index, _) in remainders.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }) where leftover > 0 {
            shares[index] += 1
            leftover -= 1
        }
        return shares
    }

    static func localText(_ localMillis: Int64, _ granularity: Granularity) -> String {
        let days = (localMillis >= 0 ? localMillis : localMillis - 86_399_999) / 86_400_000
        let (year, month, day) = civil(days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(year)-\(two(month))-\(two(day))"
        guard granularity == .hour else { return date }
        let hour = Int((localMillis - days * 86_400_000) / 3_600_000)
        return "\(date)T\(two(hour)):00"
    }

    /// Year, month, day of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
    static func civil(_ days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (Int(yoe + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }
}
