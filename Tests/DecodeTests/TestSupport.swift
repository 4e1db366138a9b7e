import Foundation
import Testing

/// Paths and external tools the Decode tests use.
enum TestSupport {
    /// The repository root (this file is Tests/DecodeTests/TestSupport.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Committed media made by tools/fixtures/make_decode_fixtures.sh.
    static func fixture(_ name: String) -> String {
        repoRoot.appendingPathComponent("tools/fixtures/decode").appendingPathComponent(name).path
    }

    /// Read-only material beside the checkout (`../shared`).
    static func shared(_ relative: String) -> String {
        repoRoot.deletingLastPathComponent().appendingPathComponent("shared").appendingPathComponent(relative).path
    }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let ffmpeg = executable("ffmpeg")
    static let ffprobe = executable("ffprobe")
    static var haveCLI: Bool { ffmpeg != nil && ffprobe != nil }

    /// Runs a tool to completion and returns its stdout; fails the test on a non-zero exit.
    static func run(_ tool: String, _ arguments: [String], timeout: Double = 60) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { if process.isRunning { kill(pid, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        guard process.terminationStatus == 0 else {
            throw CLIError(description: "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return data
    }

    struct CLIError: Error, CustomStringConvertible { let description: String }

    /// `ffprobe -count_frames`: frames the decoder produces for the first video stream.
    static func countFrames(_ path: String) throws -> Int {
        let data = try run(ffprobe!, [
            "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path,
        ])
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let count = Int(text) else { throw CLIError(description: "ffprobe said '\(text)'") }
        return count
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("decode-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
