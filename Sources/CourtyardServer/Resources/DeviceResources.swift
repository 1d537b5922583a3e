import CourtyardDomain
import CourtyardStorage
import Foundation
import HTTPTypes

extension ParkingSpace: APIResource {
    /// Writable fields of a parking space.
    struct Input: Codable, Sendable {
        var communityId: String
        var code: String
        var kind: Kind
        var houseId: String?
        var area: Area?
    }

    static let path = "parking-spaces"
    static let displayName = "ParkingSpace"
    static let readPermission = Permission.readProperty
    static let writePermission = Permission.manageProperty
    static let filters = ["community_id", "kind", "house_id"]
    static let requiredInputFields = ["community_id", "code", "kind"]
    static var example: ParkingSpace {
        ParkingSpace(
            id: Example.space, companyId: Example.company, communityId: Example.community, code: "B1-017", kind: .owned,
            houseId: Example.house, area: Area(hundredths: 1250), createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(communityId: communityId, code: code, kind: kind, houseId: houseId, area: area) }

    static func make(_ input: Input, id: String, existing: ParkingSpace?, now: Date, store: ScopedStore) async throws -> ParkingSpace {
        var check = Validator()
        check.text(input.code, "code", maxLength: 32)
        if let area = input.area { check.positive(area, "area") }
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        _ = try await store.reference(House.self, id: input.houseId, field: "house_id", community: input.communityId)
        return ParkingSpace(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, code: input.code,
            kind: input.kind, houseId: input.houseId, area: input.area,
            createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension Device: APIResource {
    /// Writable fields of a device record.
    struct Input: Codable, Sendable {
        var communityId: String
        var deviceKey: String
        var kind: Kind
        var `protocol`: Transport?
        var model: String?
        var address: String?
        var status: Status?
        var registerModulus: Quantity?
        var firmware: String?
    }

    static let path = "devices"
    static let displayName = "Device"
    static let readPermission = Permission.readDevices
    static let writePermission = Permission.manageDevices
    static let filters = ["community_id", "kind", "status", "device_key"]
    static let requiredInputFields = ["community_id", "device_key", "kind"]
    static var example: Device {
        Device(
            id: Example.device, companyId: Example.company, communityId: Example.community, deviceKey: "water_meter_102",
            kind: .waterMeter, protocol: .cjt188, model: "LXSY-20", address: "00000000001402", status: .active,
            registerModulus: Quantity(milliUnits: 100_000_000_000), firmware: "V2.3.1", createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(
            communityId: communityId, deviceKey: deviceKey, kind: kind, protocol: `protocol`, model: model, address: address, status: status,
            registerModulus: registerModulus, firmware: firmware)
    }

    static func make(_ input: Input, id: String, existing: Device?, now: Date, store: ScopedStore) async throws -> Device {
        let transport = input.protocol ?? .http
        var check = Validator()
        check.text(input.deviceKey, "device_key", maxLength: 128)
        check.check(
            input.deviceKey.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) },
            "device_key", "invalid_format", "device_key may hold ASCII letters, digits and - _ . : only")
        check.optionalText(input.model, "model", maxLength: 64)
        check.optionalText(input.firmware, "firmware", maxLength: 64)
        if let address = input.address {
            let digits = transport == .dlt645 ? 12 : transport == .cjt188 ? 14 : nil
            check.check(
                address.allSatisfy(\.isHexDigit) && digits.map { address.count == $0 } ?? (address.count <= 64),
                "address", "invalid_format",
                digits.map { "address must be \($0) hex digits for \(transport.rawValue)" } ?? "address must be hex digits")
        }
        if let modulus = input.registerModulus {
            check.check(modulus.milliUnits > 0, "register_modulus", "must_be_positive", "register_modulus must be greater than 0")
        }
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        return Device(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, deviceKey: input.deviceKey,
            kind: input.kind, protocol: transport, model: input.model, address: input.address?.uppercased(),
            status: input.status ?? .active, registerModulus: input.registerModulus, firmware: input.firmware, createdAt: existing?.createdAt ?? now,
            updatedAt: now)
    }
}

extension DeviceBinding: APIResource {
    /// Writable fields of a device binding.
    struct Input: Codable, Sendable {
        var deviceId: String
        var targetKind: TargetKind
        var targetId: String
        var validFrom: LocalDate
        var validUntil: LocalDate?
    }

    static let path = "device-bindings"
    static let displayName = "DeviceBinding"
    static let readPermission = Permission.readDevices
    static let writePermission = Permission.manageDevices
    static let filters = ["community_id", "device_id", "target_kind", "target_id"]
    /// A house's, parking space's or facility's id, or a common-area key such as `lift:<building id>`.
    static let freeFormFields: Set<String> = ["target_id"]
    static let requiredInputFields = ["device_id", "target_kind", "target_id", "valid_from"]
    static var example: DeviceBinding {
        DeviceBinding(
            id: "0194f3a0-0000-7000-8000-00000000000b", companyId: Example.company, communityId: Example.community,
            deviceId: Example.device, targetKind: .house, targetId: Example.house, validFrom: Example.day,
            validUntil: nil, createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(deviceId: deviceId, targetKind: targetKind, targetId: targetId, validFrom: validFrom, validUntil: validUntil) }

    static func make(_ input: Input, id: String, existing: DeviceBinding?, now: Date, store: ScopedStore) async throws -> DeviceBinding {
        let period = EffectivePeriod(from: input.validFrom, until: input.validUntil)
        var check = Validator()
        check.check(period.isValid, "valid_until", "before_start", "valid_until must be after valid_from")
        check.unchanged(input.deviceId, existing?.deviceId, "device_id")
        try check.finish()
        let device = try await store.reference(Device.self, id: input.deviceId, field: "device_id")
        switch input.targetKind {
        case .house:
            _ = try await store.reference(House.self, id: input.targetId, field: "target_id", community: device.communityId)
        case .parkingSpace:
            _ = try await store.reference(ParkingSpace.self, id: input.targetId, field: "target_id", community: device.communityId)
        case .facility, .commonArea:
            var text = Validator()
            text.text(input.targetId, "target_id", maxLength: 128)
            try text.finish()
        }
        // One device measures one thing on any day: refuse overlapping bindings.
        let others = try await store.listAll(DeviceBinding.self, filters: [("device_id", device.id)])
        if let clash = others.first(where: { $0.id != id && $0.period.overlaps(period) }) {
            throw Problem(
                .conflict, code: "binding_overlap", title: "The device is already bound during these dates",
                detail: "binding \(clash.id) runs from \(clash.validFrom) to \(clash.validUntil?.description ?? "open end")",
                errors: [FieldIssue(field: "valid_from", code: "binding_overlap", message: "overlaps binding \(clash.id)")])
        }
        return DeviceBinding(
            id: id, companyId: store.scope.companyId, communityId: device.communityId, deviceId: device.id,
            targetKind: input.targetKind, targetId: input.targetId, validFrom: input.validFrom,
            validUntil: input.validUntil, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}
