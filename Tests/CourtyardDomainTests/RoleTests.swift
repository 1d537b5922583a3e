import CourtyardDomain
import Foundation
import Testing

@Suite("Roles and permissions")
struct RoleTests {
    /// The matrix, written out: a change here is a deliberate product decision.
    static let matrix: [Role: Set<Permission>] = [
        .platformAdmin: Set(Permission.allCases),
        .companyAdmin: [
            .manageUsers, .readUsers, .manageProperty, .readProperty, .managePeople, .readPeople,
            .manageDevices, .readDevices, .manageFinance, .readFinance, .recordUsage, .takePayments,
        ],
        .finance: [.readProperty, .readPeople, .readDevices, .readUsers, .manageFinance, .readFinance, .recordUsage, .takePayments],
        .frontDesk: [.readProperty, .readPeople, .managePeople, .readDevices, .readFinance, .takePayments],
        .engineer: [.readProperty, .readDevices, .manageDevices, .recordUsage],
        .owner: [.readOwnHouses],
    ]

    @Test("each role grants exactly the permissions of the matrix", arguments: Role.allCases)
    func matrixHolds(_ role: Role) {
        #expect(role.permissions == Self.matrix[role])
        for permission in Permission.allCases {
            #expect(role.allows(permission) == Self.matrix[role]!.contains(permission))
        }
    }

    @Test("only the platform administrator manages companies")
    func companiesArePlatformOnly() {
        #expect(Role.allCases.filter { $0.allows(.manageCompanies) } == [.platformAdmin])
    }

    @Test("owners cannot read other people's data or any staff list")
    func ownersSeeOnlyTheirOwn() {
        for permission in Permission.allCases where permission != .readOwnHouses {
            #expect(!Role.owner.allows(permission))
        }
    }
}

@Suite("Dates and identifiers")
struct CalendarAndIdentifierTests {
    @Test("local dates parse strictly and know leap years")
    func localDates() {
        #expect(LocalDate("2024-02-29") != nil)
        #expect(LocalDate("2026-02-29") == nil)
        #expect(LocalDate("2026-13-01") == nil)
        #expect(LocalDate("2026-1-01") == nil)
        #expect(LocalDate("2026-01-01")?.description == "2026-01-01")
        for text in ["", "2026-01-0", "2026-01-011", "2026/01/01", "+026-01-01", "2026-0a-01", "2026-00-10", "0000-01-01", "2026-01-01 "] {
            #expect(LocalDate(text) == nil, "\(text)")
        }
        #expect(LocalDate("2026-12-31"[...]) == LocalDate(year: 2026, month: 12, day: 31))
    }

    @Test("effective periods are half-open and detect overlaps")
    func periods() {
        let d = { (text: String) in LocalDate(text)! }
        let january = EffectivePeriod(from: d("2026-01-01"), until: d("2026-02-01"))
        let february = EffectivePeriod(from: d("2026-02-01"), until: nil)
        #expect(!january.overlaps(february))
        #expect(january.contains(d("2026-01-31")))
        #expect(!january.contains(d("2026-02-01")))
        #expect(EffectivePeriod(from: d("2026-01-15"), until: d("2026-03-01")).overlaps(february))
        #expect(!EffectivePeriod(from: d("2026-01-15"), until: d("2026-01-15")).isValid)
    }

    @Test("UUIDv7 ids carry version 7 and sort by creation time")
    func uuidV7() {
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        let ids = (0..<50).map { Identifier.uuidV7(at: base.addingTimeInterval(Double($0) / 100)) }
        #expect(ids == ids.sorted())
        for id in ids {
            #expect(Identifier.isValid(id))
            #expect(Array(id)[14] == "7")
        }
    }
}
