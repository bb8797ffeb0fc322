using Supervisor.Cli;

// No stack trace ever reaches a user: anything unexpected is one line and exit 70 (EX_SOFTWARE).
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    Console.Error.WriteLine($"supervisor: internal error: {(e.ExceptionObject as Exception)?.Message ?? e.ExceptionObject}");
    Environment.Exit(ExitCodes.Internal);
};
return await Cli.RunAsync(args, Console.Out, Console.Error);
