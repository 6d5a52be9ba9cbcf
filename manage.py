#!/usr/bin/env python
from siyu.cli import main

if __name__ == "__main__":
    main()
