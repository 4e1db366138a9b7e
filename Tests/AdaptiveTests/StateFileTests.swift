import Foundation
import Testing
@testable import Adaptive

struct StateFileTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qrt-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func roundTripReplacesAtomically() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("state.json")
        #expect(try StateFile.read(url) == nil)
        try StateFile.write(Data("first".utf8), to: url)
        try StateFile.write(Data("second, longer".utf8), to: url)
        #expect(try StateFile.read(url) == Data("second, longer".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state.json"])
    }

    @Test func tornAndEditedFilesAreDetected() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("state.json")
        try StateFile.write(Data("{\"epoch\": 3}".utf8), to: url)
        let good = try Data(contentsOf: url)
        try good.dropLast(2).write(to: url)
        #expect(throws: StateFile.Corrupt.self) { try StateFile.read(url) }
        var edited = good
        edited[edited.count - 2] = UInt8(ascii: "4")
        try edited.write(to: url)
        #expect(throws: StateFile.Corrupt.self) { try StateFile.read(url) }
        try Data("garbage".utf8).write(to: url)
        #expect(throws: StateFile.Corrupt.self) { try StateFile.read(url) }
    }

    @Test func checksumMatchesKnownFNV1aVector() {
        #expect(StateFile.checksum(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
    }
}
