import CourtyardDomain
import Foundation

/// Fixed values for the examples in the OpenAPI document.
enum Example {
    static let date = Date(timeIntervalSince1970: 1_790_000_000)
    static let company = "0194f3a0-0000-7000-8000-000000000001"
    static let community = "0194f3a0-0000-7000-8000-000000000002"
    static let building = "0194f3a0-0000-7000-8000-000000000003"
    static let unit = "0194f3a0-0000-7000-8000-000000000004"
    static let house = "0194f3a0-0000-7000-8000-000000000005"
    static let person = "0194f3a0-0000-7000-8000-000000000006"
    static let space = "0194f3a0-0000-7000-8000-000000000007"
    static let device = "0194f3a0-0000-7000-8000-000000000008"
    static let day = LocalDate(year: 2026, month: 1, day: 1)!
}
