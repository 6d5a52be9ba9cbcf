import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the console (waitress) and a background worker (Huey consumer) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="do not start the Huey consumer")

    def handle(self, *args, host, port, threads, no_worker, **options):
        from waitress import serve

        from siyu.wsgi import application

        workers = []
        if not no_worker:
            workers.append(subprocess.Popen([sys.executable, "-m", "siyu.cli", "run_huey", "--quiet"]))

        def stop(*_):
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=10)
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Siyu console on http://{host}:{port}/ (worker: {'off' if no_worker else 'on'})")
        try:
            serve(application, host=host, port=port, threads=threads, ident="siyu")
        finally:
            stop()
