import Foundation
import QRTCore

/// `qrt-detr bench`: times the whole per-frame path (preprocess, model, postprocess) on a fixed
/// synthetic frame, after warm-up, and reports median / p90 latency and peak resident memory.
enum BenchCommand {
    static let help = """
        usage: qrt-detr bench [--model DIR] [--size N] [--threads N] [--iters 20] [--warmup 3] [--json] [--profile]

          --profile   also print the time spent in each model stage
        """

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(commandLine, valued: ModelOptions.valued.union(["iters", "warmup"]), flags: ["json", "profile"])
        let options = try ModelOptions(arguments)
        let iterations = try arguments.int("iters", default: 20, range: 1...100_000)
        let warmup = try arguments.int("warmup", default: 3, range: 0...1000)
        let detector = try options.loadDetector()

        // A deterministic textured frame: smooth gradients plus a pseudo-random pattern.
        var state: UInt32 = 12345
        let frame: [UInt8] = (0..<(options.size * options.size * 3)).map { i in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: (i / 3 % options.size) / 3 + Int(state >> 26))
        }
        var times: [Double] = []
        let clock = StageClock()
        try frame.withUnsafeBufferPointer { pixels in
            for i in 0..<(warmup + iterations) {
                if i == warmup, arguments.flag("profile") { detector.model.clock = clock }
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try detector.detect(rgb: pixels, sourceWidth: 1280, sourceHeight: 720, scoreThreshold: 0.5)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if i >= warmup { times.append(elapsed) }
            }
        }
        times.sort()
        for (stage, seconds) in clock.totals {
            FileHandle.standardError.write(Data(String(format: "  %@ %8.1f ms\n", stage.padding(toLength: 16, withPad: " ", startingAt: 0), seconds * 1000 / Double(iterations)).utf8))
        }
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let p90 = times[min(times.count - 1, Int((Double(times.count) * 0.9).rounded(.up)) - 1)]
        let peakMB = Double(ProcessMemory.peakResidentBytes()) / 1_048_576
        let precision = detector.model.executionMode.rawValue
        if arguments.flag("json") {
            let object: [String: Any] = [
                "model": options.directory.path, "size": options.size, "threads": options.threads,
                "iters": iterations, "median_ms": median, "p90_ms": p90, "min_ms": times.first!,
                "fps": 1000 / median, "peak_rss_mb": peakMB, "precision": precision,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%@  %d×%d  %d threads  %@: median %.1f ms  p90 %.1f ms  (%.1f fps)  peak RSS %.0f MB",
                         options.directory.lastPathComponent, options.size, options.size, options.threads,
                         precision, median, p90, 1000 / median, peakMB))
        }
        return 0
    }
}

enum ProcessMemory {
    /// VmHWM from /proc/self/status: the peak resident set size.
    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}
