import Foundation
import QRTCore

/// Opens the model a command names, with the options every inference command shares.
struct ModelOptions {
    static let valued: Set<String> = ["model", "size", "threads"]

    /// A checkpoint directory or a `.qrt` artifact.
    let directory: URL
    /// `--size`, else the size the model records (`PreferredInputSize`), else 640.
    let size: Int
    let threads: Int

    init(_ arguments: Arguments) throws {
        if let named = arguments.string("model") {
            directory = URL(fileURLWithPath: named)
            guard FileManager.default.fileExists(atPath: directory.path) else {
                throw Arguments.UsageError(description: "--model \(directory.path): no such file or directory")
            }
        } else {
            directory = try DefaultModel.locate()
        }
        let recorded = arguments.string("size") == nil ? try PreferredInputSize.of(directory) : nil
        size = try arguments.int("size", default: recorded ?? 640, range: 32...2048)
        guard size % 32 == 0 else {
            throw Arguments.UsageError(description: "option --size must be a multiple of 32 (the model's largest stride), got \(size)")
        }
        threads = try arguments.int("threads", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    }

    /// An FP32 checkpoint directory or a `.qrt` artifact (which runs in INT8).
    func loadDetector() throws -> Detector {
        Compute.setThreads(threads)
        let model = try RTDetrModel.load(path: directory)
        return Detector(model: model, inputSize: size)
    }
}
