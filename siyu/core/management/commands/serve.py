import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run the console (waitress), a background worker (Huey consumer) and the bot's inbound process "
        "(`siyu channel matrix`, idle until a bot is connected) until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="do not start the Huey consumer")
        parser.add_argument("--no-bot", action="store_true", help="do not start `siyu channel matrix`")

    def handle(self, *args, host, port, threads, no_worker, no_bot, **options):
        from waitress import serve

        from siyu.wsgi import application

        children = []
        if not no_worker:
            children.append(subprocess.Popen([sys.executable, "-m", "siyu.cli", "run_huey", "--quiet"]))
        if not no_bot:
            children.append(subprocess.Popen([sys.executable, "-m", "siyu.cli", "channel", "matrix"]))

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(
            f"Siyu console on http://{host}:{port}/ (worker: {'off' if no_worker else 'on'}, "
            f"Matrix bot: {'off' if no_bot else 'on'})"
        )
        try:
            serve(application, host=host, port=port, threads=threads, ident="siyu")
        finally:
            stop()
