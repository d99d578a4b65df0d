FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY web web
COPY worker worker
COPY sandbox sandbox
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
EXPOSE 5000
CMD ["gunicorn", "web:create_app()", "--bind", "0.0.0.0:5000"]
