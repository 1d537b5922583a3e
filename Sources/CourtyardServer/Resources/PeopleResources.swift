import CourtyardDomain
import CourtyardStorage
import Foundation

extension Person: APIResource {
    /// Writable fields of a person.
    struct Input: Codable, Sendable {
        var communityId: String
        var name: String
        var phone: String?
        var email: String?
    }

    static let path = "people"
    static let displayName = "Person"
    static let readPermission = Permission.readPeople
    static let writePermission = Permission.managePeople
    static let filters = ["community_id", "phone"]
    static let requiredInputFields = ["community_id", "name"]
    static var example: Person {
        Person(
            id: Example.person, companyId: Example.company, communityId: Example.community, name: "张伟",
            phone: "13800138000", email: nil, createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(communityId: communityId, name: name, phone: phone, email: email) }

    static func make(_ input: Input, id: String, existing: Person?, now: Date, store: ScopedStore) async throws -> Person {
        var check = Validator()
        check.text(input.name, "name", maxLength: 64)
        if let phone = input.phone {
            check.check(
                phone.count >= 5 && phone.count <= 20 && phone.allSatisfy { $0.isNumber || $0 == "+" || $0 == "-" },
                "phone", "invalid_format", "phone must be 5 to 20 digits (a leading + and dashes allowed)")
        }
        if let email = input.email {
            check.check(
                email.contains("@") && email.count <= 254 && !email.contains(" "), "email", "invalid_format",
                "email must be an address such as name@example.com")
        }
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        return Person(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, name: input.name,
            phone: input.phone, email: input.email, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension Occupancy: APIResource {
    /// Writable fields of an occupancy (a person's role in a house over dates).
    struct Input: Codable, Sendable {
        var houseId: String
        var personId: String
        var role: Role
        var validFrom: LocalDate
        var validUntil: LocalDate?
    }

    static let path = "occupancies"
    static let displayName = "Occupancy"
    static let readPermission = Permission.readPeople
    static let writePermission = Permission.managePeople
    static let filters = ["community_id", "house_id", "person_id", "role"]
    static let requiredInputFields = ["house_id", "person_id", "role", "valid_from"]
    static var example: Occupancy {
        Occupancy(
            id: "0194f3a0-0000-7000-8000-000000000009", companyId: Example.company, communityId: Example.community,
            houseId: Example.house, personId: Example.person, role: .owner, validFrom: Example.day, validUntil: nil,
            createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(houseId: houseId, personId: personId, role: role, validFrom: validFrom, validUntil: validUntil) }

    static func make(_ input: Input, id: String, existing: Occupancy?, now: Date, store: ScopedStore) async throws -> Occupancy {
        var check = Validator()
        check.check(
            EffectivePeriod(from: input.validFrom, until: input.validUntil).isValid, "valid_until", "before_start",
            "valid_until must be after valid_from")
        check.unchanged(input.houseId, existing?.houseId, "house_id")
        check.unchanged(input.personId, existing?.personId, "person_id")
        try check.finish()
        let house = try await store.reference(House.self, id: input.houseId, field: "house_id")
        _ = try await store.reference(Person.self, id: input.personId, field: "person_id", community: house.communityId)
        return Occupancy(
            id: id, companyId: store.scope.companyId, communityId: house.communityId, houseId: house.id,
            personId: input.personId, role: input.role, validFrom: input.validFrom, validUntil: input.validUntil,
            createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension Vehicle: APIResource {
    /// Writable fields of a vehicle.
    struct Input: Codable, Sendable {
        var communityId: String
        var plate: String
        var personId: String?
        var houseId: String?
        var parkingSpaceId: String?
        var energy: Energy?
    }

    static let path = "vehicles"
    static let displayName = "Vehicle"
    static let readPermission = Permission.readPeople
    static let writePermission = Permission.managePeople
    static let filters = ["community_id", "plate", "person_id", "house_id"]
    static let requiredInputFields = ["community_id", "plate"]
    static var example: Vehicle {
        Vehicle(
            id: "0194f3a0-0000-7000-8000-00000000000a", companyId: Example.company, communityId: Example.community,
            plate: "浙A12345", personId: Example.person, houseId: Example.house, parkingSpaceId: Example.space,
            energy: .fuel, createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(communityId: communityId, plate: plate, personId: personId, houseId: houseId, parkingSpaceId: parkingSpaceId, energy: energy)
    }

    /// Uppercases and strips separators: "浙a·123 45" → "浙A12345".
    static func normalizedPlate(_ plate: String) -> String {
        plate.uppercased().filter { !$0.isWhitespace && $0 != "·" && $0 != "-" && $0 != "." }
    }

    static func make(_ input: Input, id: String, existing: Vehicle?, now: Date, store: ScopedStore) async throws -> Vehicle {
        let plate = normalizedPlate(input.plate)
        var check = Validator()
        check.check(
            (7...8).contains(plate.count) && plate.dropFirst().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
                || (plate.count >= 5 && plate.count <= 10 && plate.allSatisfy { $0.isLetter || $0.isNumber }),
            "plate", "invalid_format", "plate must be a licence plate such as 浙A12345")
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        _ = try await store.reference(Person.self, id: input.personId, field: "person_id", community: input.communityId)
        _ = try await store.reference(House.self, id: input.houseId, field: "house_id", community: input.communityId)
        _ = try await store.reference(ParkingSpace.self, id: input.parkingSpaceId, field: "parking_space_id", community: input.communityId)
        let energy = input.energy ?? (plate.count == 8 ? .electric : .fuel)
        return Vehicle(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, plate: plate,
            personId: input.personId, houseId: input.houseId, parkingSpaceId: input.parkingSpaceId, energy: energy,
            createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}
